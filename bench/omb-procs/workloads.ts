/**
 * The workloads of `bench omb`, in the OpenMessaging benchmark's shape (topics, partitions per topic, message
 * size, producer rate, consumers per subscription, duration), at sizes that fit this two-core machine.
 */

export interface Workload {
  name: string;
  topics: number;
  /** Queues of each topic (ours); JetStream has no queues, its stream takes every topic's subject. */
  queuesPerTopic: number;
  messageBytes: number;
  /** Messages per second, all producers together. */
  rate: number;
  /** Producer processes, each sending rate / producers. */
  producers: number;
  /** Members of the one consumer group (ours) or pullers of the one durable consumer (JetStream). */
  consumersPerSubscription: number;
  durationMs: number;
  warmupMs: number;
}

/** The backlog workload: `messages` stored first, then consumers drain them while producers send at `rate`. */
export interface BacklogWorkload extends Workload {
  messages: number;
  /** How long the consumers get to catch up before the goal fails. */
  limitMs: number;
}

const ONE_TOPIC = { topics: 1, queuesPerTopic: 16, messageBytes: 1024, producers: 1, consumersPerSubscription: 1 };

/** The 1-topic x 16-queue, 1 KiB workloads at the three rates. */
export function oneTopicWorkloads(durationMs: number, warmupMs: number): Workload[] {
  return [1000, 10_000, 50_000].map((rate) => ({ name: `1-topic-16q-1KiB-${rate}`, ...ONE_TOPIC, rate, durationMs, warmupMs }));
}

/** 1,000 topics x 8 queues, 100 B, at `rate` (the best the 1-topic case sustained). */
export function manyTopicsWorkload(rate: number, durationMs: number, warmupMs: number): Workload {
  return { name: '1000-topics-8q-100B', topics: 1000, queuesPerTopic: 8, messageBytes: 100, rate, producers: 1, consumersPerSubscription: 1, durationMs, warmupMs };
}

/** The backlog: `messages` of 100 B stored on 1 topic x 16 queues, then drained while producers send at `rate`. */
export function backlogWorkload(messages: number, rate: number, limitMs: number): BacklogWorkload {
  return { name: 'backlog-100B', topics: 1, queuesPerTopic: 16, messageBytes: 100, rate, producers: 1, consumersPerSubscription: 1, durationMs: limitMs, warmupMs: 0, messages, limitMs };
}

/** A workload's topic names, unique per run (`run` tells the two sides and repeated runs apart). */
export function topicNames(w: Workload, run: string): string[] {
  return Array.from({ length: w.topics }, (_, i) => `omb-${run}-${i}`);
}

/** The topics producer `index` of `producers` sends to: every producers-th, from its index. */
export function topicsOfProducer(topics: readonly string[], index: number, producers: number): string[] {
  return topics.filter((_, i) => i % producers === index);
}
