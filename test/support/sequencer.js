const TestSequencer = require("@jest/test-sequencer").default;

/** Lanes whose files run longest first: a Cluster or a browser takes seconds before its first test. */
const LANES = ["topology", "integration", "fast"];

/**
 * Jest's order (failed first, then the longest by the last run's timings), except for files with
 * no timings yet (a fresh clone, as CI has): Jest would order those by file size alone, so a short
 * failover suite could start last and hold the run; here they go lane by lane, topology first,
 * then by size. Two workers then end close together.
 */
class LanesSequencer extends TestSequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    const lane = (test) => {
      const index = LANES.indexOf(test.context.config.displayName?.name);
      return index < 0 ? LANES.length : index;
    };
    const size = (test) => test.context.hasteFS.getSize(test.path) ?? 0;
    const untimed = sorted.filter((test) => test.duration == null && !this.hasFailed(test));
    if (untimed.length === 0) return sorted;
    untimed.sort((a, b) => lane(a) - lane(b) || size(b) - size(a));
    const rest = sorted.filter((test) => !untimed.includes(test));
    // Where Jest puts them: failed files first, then those without timings, then the timed ones.
    const failed = rest.filter((test) => this.hasFailed(test));
    return [...failed, ...untimed, ...rest.filter((test) => !this.hasFailed(test))];
  }
}

module.exports = LanesSequencer;
