// The rewind debugger for VS Code: sessions of type "rewind" run `rewind dap` (the
// Debug Adapter Protocol server in rewind itself) and talk to it over stdin/stdout.
// The adapter does the work; this file only says how to start it, and adds a
// "Go to Event" command for rewind's own rewind/goto request.
'use strict';
const vscode = require('vscode');

function activate(context) {
  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory('rewind', {
      createDebugAdapterDescriptor() {
        const rewind = vscode.workspace.getConfiguration('rewind').get('path') || 'rewind';
        return new vscode.DebugAdapterExecutable(rewind, ['dap']);
      },
    }),
    vscode.commands.registerCommand('rewind.goto', async () => {
      const session = vscode.debug.activeDebugSession;
      if (!session || session.type !== 'rewind') {
        vscode.window.showErrorMessage('rewind: no rewind debug session is active');
        return;
      }
      const answer = await vscode.window.showInputBox({
        prompt: 'Replay to just after event number (see `rewind dump`)',
        validateInput: (text) => (/^\d+$/.test(text.trim()) ? undefined : 'an event number: 0, 1, 2, ...'),
      });
      if (answer === undefined) return;
      try {
        await session.customRequest('rewind/goto', { event: Number(answer.trim()) });
      } catch (e) {
        vscode.window.showErrorMessage(`rewind: ${e.message}`);
      }
    }),
  );
}

function deactivate() {}

module.exports = { activate, deactivate };
