#!/usr/bin/env node
// Process entry: first the process's memory settings (a process started without them replaces itself with one that
// has them, src/cli/memory-settings.ts), then the CLI, loaded only after that (src/cli/entry.ts).
import { applyMemorySettings } from './cli/memory-settings.js';

applyMemorySettings();
await import('./cli/entry.js');
