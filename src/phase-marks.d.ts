// Start-up phases (bench/startup-phases.js): that benchmark defines this function in
// a module it preloads (node --import) and prints how long each phase took. Unset
// otherwise: a mark is then one property read.
declare var __rewindMark: ((phase: string) => void) | undefined;
