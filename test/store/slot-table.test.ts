import fc from 'fast-check';
import { SlotTable } from '../../store/slot-table.js';

/** The table's slots as the file holds them: big-endian u32s. */
function fileBytes(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint32(i * 4, v));
  return out;
}

describe('the key index slot table', () => {
  it('writing its changed runs over the last written table gives the table (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12_000 }),
        fc.array(fc.array(fc.tuple(fc.nat(), fc.nat({ max: 0xffffffff })), { maxLength: 300 }), { minLength: 1, maxLength: 5 }),
        (count, rounds) => {
          const table = new SlotTable(count);
          const model: number[] = new Array<number>(count).fill(0);
          const file = new Uint8Array(count * 4); // what the flushes wrote
          for (const sets of rounds) {
            for (const [slot, value] of sets) {
              table.set(slot % count, value);
              model[slot % count] = value;
            }
            let covered = 0;
            for (const r of table.changedRuns()) {
              expect(r.at % 4096).toBe(0);
              file.set(r.bytes, r.at);
              covered += r.bytes.length;
            }
            table.markClean();
            expect(table.changedPages).toBe(0);
            expect(table.changedRuns()).toEqual([]);
            for (let i = 0; i < count; i++) if (table.get(i) !== model[i]) expect([i, table.get(i)]).toEqual([i, model[i]]);
            expect(Buffer.from(file).equals(fileBytes(model))).toBe(true);
            expect(covered).toBeLessThanOrEqual(count * 4);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('writes a second of scattered changes as a few runs, not one write per slot', () => {
    const table = new SlotTable(500_000); // the default geometry: 2 MB of slots
    for (let i = 0; i < 1000; i++) table.set((i * 2654435761) % 500_000, i + 1);
    const runs = table.changedRuns();
    expect(runs.length).toBeLessThanOrEqual(4);
    // a few changes far apart stay apart (no rewrite of the whole table)
    table.markClean();
    table.set(0, 1);
    table.set(499_999, 2);
    expect(table.changedRuns().map((r) => [r.at, r.bytes.length])).toEqual([
      [0, 4096],
      [(488 * 1024) * 4, 500_000 * 4 - 488 * 1024 * 4],
    ]);
  });

  it('loads the slots a file holds', () => {
    const t = new SlotTable(3, fileBytes([7, 0xffffffff, 1]));
    expect([t.get(0), t.get(1), t.get(2)]).toEqual([7, 0xffffffff, 1]);
    expect(t.changedPages).toBe(0);
    t.markAll();
    expect(t.changedRuns()).toEqual([{ at: 0, bytes: fileBytes([7, 0xffffffff, 1]) }]);
  });
});
