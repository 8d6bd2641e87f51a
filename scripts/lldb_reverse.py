# Reverse commands for lldb-19 against `rewind replay` (lldb-19 has none of its own):
#
#   (lldb) command script import /path/to/rewind/scripts/lldb_reverse.py
#   (lldb) rc      reverse-continue: back to the previous breakpoint hit, or the start
#   (lldb) rsi     reverse-stepi: back one instruction
#
# Each sends gdb's packet (bc or bs) raw, then makes lldb see where the process now
# is: lldb does not notice a move it did not ask for, and only rereads registers and
# memory after a stop of its own. So one more bs, and a forward `thread step-inst`,
# which lands exactly where the reverse command stopped (CodeLLDB's sequence). When
# lldb believed it stood on a breakpoint, it takes that step as stepping over the
# breakpoint, stops at the one it lands on and leaves its own step plan pending (the
# next resume would stop after one instruction): that plan is discarded here.
# A reverse-continue that stops at one of lldb's own breakpoints only (the dynamic
# linker's _dl_debug_state, where lldb learns about libraries) goes on backwards,
# as LLDB >= 21 does with its own reverse-continue. docs/lldb.md has the details.
import re

import lldb


def _run(debugger, command):
    ret = lldb.SBCommandReturnObject()
    debugger.GetCommandInterpreter().HandleCommand(command, ret)
    if not ret.Succeeded():
        raise RuntimeError(f'{command}: {ret.GetError().strip()}')
    return ret.GetOutput() or ''


def _reply(output):
    """The stop reply in `process plugin packet send` output."""
    for line in output.splitlines():
        if line.startswith('response: '):
            return line[len('response: '):]
    return ''


def _internal_only(debugger, pc):
    """Whether pc has one of lldb's internal breakpoints and none of the user's."""
    internal = {int(a, 16) for a in re.findall(r'^\s*-\d+\.\d+: .*address = 0x([0-9a-f]+)', _run(debugger, 'breakpoint list --internal'), re.M)}
    if pc not in internal:
        return False
    target = debugger.GetSelectedTarget()
    for bp in target.breakpoint_iter():
        for loc in bp:
            if bp.IsEnabled() and loc.IsEnabled() and loc.GetLoadAddress() == pc:
                return False
    return True


def _pc_in(reply):
    m = re.search(r'thread-pcs:([0-9a-f]+);', reply)
    return int(m.group(1), 16) if m else None


def _reverse(debugger, packet, result):
    try:
        thread = debugger.GetSelectedTarget().GetProcess().GetSelectedThread()
        before = thread.GetFrameAtIndex(0).GetPC()
        for _ in range(1000):
            reply = _reply(_run(debugger, f'process plugin packet send {packet}'))
            if not reply.startswith('T'):
                raise RuntimeError(f'rewind answered {packet} with {reply!r}')
            pc = _pc_in(reply)
            if packet != 'bc' or 'swbreak' not in reply or pc is None or not _internal_only(debugger, pc):
                break
        resync = reply if 'replaylog:begin' in reply else _reply(_run(debugger, 'process plugin packet send bs'))
        at_start = 'replaylog:begin' in resync
        if at_start:
            # the resync step cannot start before the start: lldb ends one instruction
            # after it. If lldb stands there already, the replay goes back there too.
            if _pc_in(_reply(_run(debugger, 'process plugin packet send s'))) == before:
                result.PutCString('rewind: at the start of the history (lldb stands one instruction after it)')
                return
            _run(debugger, 'process plugin packet send bs')
        stop = _run(debugger, 'thread step-inst')
        active = _run(debugger, 'thread plan list').split('Discarded plan stack')[0]
        if 'Element 1:' in active:
            _run(debugger, 'thread plan discard 1')
        result.PutCString(stop.rstrip())
        if at_start:
            result.PutCString('rewind: reached the start of the history (lldb stands one instruction after it)')
    except RuntimeError as e:
        result.SetError(str(e))


def reverse_continue(debugger, command, result, internal_dict):
    """Reverse-continue (rewind): back to the previous breakpoint or watchpoint hit, or the start."""
    _reverse(debugger, 'bc', result)


def reverse_stepi(debugger, command, result, internal_dict):
    """Reverse-stepi (rewind): back one instruction."""
    _reverse(debugger, 'bs', result)


def __lldb_init_module(debugger, internal_dict):
    debugger.HandleCommand(f'command script add -o -f {__name__}.reverse_continue rc')
    debugger.HandleCommand(f'command script add -o -f {__name__}.reverse_stepi rsi')
