#!/usr/bin/env node
// Notes whether stdio is non-blocking before Node makes it so (see that module).
// main.js comes in by a dynamic import: a static one would load its graph first,
// and loading `assert` (yargs imports it) already touches process.stderr.
import '../dist/cli/inherited-stdio.js';
await import('../dist/cli/main.js');
