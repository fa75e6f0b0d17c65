/** Children killed when this process exits: the helper lives with the real scenario runs, used from here too. */
export { killOnExit } from '../scenarios/real/kill-on-exit.js';
