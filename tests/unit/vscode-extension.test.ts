// editors/vscode: the extension starts `rewind dap` for sessions of type "rewind", and
// its manifest declares the launch attributes the adapter reads, with the metadata
// vsce needs to package it. The extension runs here against a stand-in for the
// `vscode` module that records what it registers.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAUNCH_ATTRIBUTES } from '../../src/dap/adapter.js';
import { ROOT } from '../helpers.js';

const DIR = path.join(ROOT, 'editors', 'vscode');
const manifest = JSON.parse(readFileSync(path.join(DIR, 'package.json'), 'utf8'));

interface Descriptor { command: string; args: string[] }

function loadExtension(settings: Record<string, string | undefined>) {
  const factories = new Map<string, { createDebugAdapterDescriptor(): Descriptor }>();
  const commands = new Map<string, () => Promise<void>>();
  const vscode = {
    debug: {
      registerDebugAdapterDescriptorFactory: (type: string, f: { createDebugAdapterDescriptor(): Descriptor }) => (factories.set(type, f), { dispose() {} }),
      activeDebugSession: undefined,
    },
    commands: { registerCommand: (name: string, fn: () => Promise<void>) => (commands.set(name, fn), { dispose() {} }) },
    workspace: { getConfiguration: (section: string) => ({ get: (key: string) => settings[`${section}.${key}`] }) },
    window: { showErrorMessage: () => undefined, showInputBox: async () => undefined },
    DebugAdapterExecutable: class { constructor(readonly command: string, readonly args: string[]) {} },
  };
  const module = { exports: {} as { activate(ctx: unknown): void } };
  const source = readFileSync(path.join(DIR, manifest.main), 'utf8');
  new Function('require', 'module', 'exports', source)((name: string) => {
    if (name !== 'vscode') throw new Error(`the extension requires ${name}: it must need nothing but vscode`);
    return vscode;
  }, module, module.exports);
  const subscriptions: unknown[] = [];
  module.exports.activate({ subscriptions });
  return { factories, commands, subscriptions };
}

describe('the VS Code extension', () => {
  it('runs `rewind dap` (or the configured rewind) for debug sessions of type rewind', () => {
    const ext = loadExtension({});
    expect([...ext.factories.keys()]).toEqual(['rewind']);
    expect(ext.factories.get('rewind')!.createDebugAdapterDescriptor()).toEqual({ command: 'rewind', args: ['dap'] });
    const configured = loadExtension({ 'rewind.path': '/opt/rewind/bin/rewind.js' });
    expect(configured.factories.get('rewind')!.createDebugAdapterDescriptor()).toEqual({ command: '/opt/rewind/bin/rewind.js', args: ['dap'] });
    expect([...ext.commands.keys()]).toEqual(manifest.contributes.commands.map((c: { command: string }) => c.command));
    expect(ext.subscriptions.length).toBe(2);
  });

  it('declares the debugger with the launch attributes the adapter reads', () => {
    const [dbg] = manifest.contributes.debuggers;
    expect(dbg.type).toBe('rewind');
    const launch = dbg.configurationAttributes.launch;
    expect(Object.keys(launch.properties).sort()).toEqual([...LAUNCH_ATTRIBUTES].sort());
    expect(launch.required).toEqual(['trace']);
    for (const config of [...dbg.initialConfigurations, ...dbg.configurationSnippets.map((s: { body: unknown }) => s.body)]) {
      expect(config).toMatchObject({ type: 'rewind', request: 'launch' });
      expect(Object.keys(config).filter((k) => !['type', 'request', 'name'].includes(k)).every((k) => k in launch.properties)).toBe(true);
    }
  });

  it('has the manifest fields vsce requires', () => {
    for (const field of ['name', 'publisher', 'version', 'engines', 'main', 'displayName', 'description', 'license']) expect(manifest, field).toHaveProperty(field);
    expect(manifest.engines.vscode).toMatch(/^\^\d+\.\d+\.\d+$/);
    expect(manifest.name).toMatch(/^[a-z0-9][a-z0-9-]*$/);
    expect(manifest.categories).toContain('Debuggers');
  });
});
