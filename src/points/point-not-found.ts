// The error of a point the replay did not find (a divergence), in a module of its
// own: the points' code is loaded only when a trace has points (scripts/bundle.mjs
// keeps it out of the commands' bundles, so that iced-x86 is not loaded at every
// start), while the replay and the debugger test for this error always; both must
// see one class.

/** A point that was not found: the replay cannot go on (a divergence). */
export class PointNotFoundError extends Error {}
