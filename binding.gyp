{
  "targets": [
    {
      "target_name": "rewind_native",
      "sources": [
        "addon/module.cc",
        "addon/tracer_thread.cc",
        "addon/ptrace_ops.cc",
        "addon/record_loop.cc",
        "addon/recording_exports.cc",
        "addon/record_processes.cc",
        "addon/record_threads.cc",
        "addon/record_thread_exec.cc",
        "addon/record_buffer.cc",
        "addon/record_desched.cc",
        "addon/record_children.cc",
        "addon/record_files.cc",
        "addon/record_images.cc",
        "addon/record_shared.cc",
        "addon/record_signals.cc",
        "addon/record_views.cc",
        "addon/replay_files.cc",
        "addon/replay_emu_map.cc",
        "addon/replay_sysemu.cc",
        "addon/replay_sigaction.cc",
        "addon/sysemu_exports.cc",
        "addon/replay_images.cc",
        "addon/file_exports.cc",
        "addon/replay_loop.cc",
        "addon/replay_divergence.cc",
        "addon/replay_processes.cc",
        "addon/replay_syscallbuf.cc",
        "addon/memory_io.cc",
        "addon/debug_exports.cc",
        "addon/tracee_exports.cc",
        "addon/run_inputs.cc",
        "addon/replay_threads.cc",
        "addon/replay_thread_exec.cc",
        "addon/debugger_hook.cc",
        "addon/debugger_positions.cc",
        "addon/debugger_slices.cc",
        "addon/debugger_rep_string.cc",
        "addon/debugger_slice_budget.cc",
        "addon/debugger_traps.cc",
        "addon/debugger_threads.cc",
        "addon/debugger_outside_runs.cc",
        "addon/debugger_counters.cc",
        "addon/debugger_point.cc",
        "addon/debugger_feed.cc",
        "addon/debug_regs.cc",
        "addon/process_copy.cc",
        "addon/thread_copy.cc",
        "addon/thread_inject.cc",
        "addon/thread_exports.cc",
        "addon/replay_thread_copy.cc",
        "addon/slice_timer.cc",
        "addon/cpuid_emulation.cc",
        "addon/state_hash.cc",
        "addon/untouched_pages.cc",
        "addon/record_preempt.cc",
        "addon/record_slices.cc",
        "addon/replay_points.cc",
        "addon/point_exports.cc",
        "addon/codecs.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++14", "-std=gnu++17"]
    },
    {
      "target_name": "rwbabysit",
      "type": "none",
      "actions": [
        {
          "action_name": "build_babysitter",
          "inputs": ["addon/babysit/babysit.c"],
          "outputs": ["<(PRODUCT_DIR)/rewind-babysit"],
          "action": ["cc", "-O2", "-Wall", "-o", "<@(_outputs)", "<@(_inputs)"]
        }
      ]
    },
    {
      "target_name": "rwpreload",
      "type": "none",
      "actions": [
        {
          "action_name": "build_preload_library",
          "inputs": ["addon/preload/rwpreload.c", "addon/preload/rwpreload_env.c"],
          "outputs": ["<(PRODUCT_DIR)/librwpreload.so"],
          "action": ["cc", "-O2", "-fPIC", "-shared", "-nostdlib", "-ffreestanding", "-fno-builtin",
                     "-mgeneral-regs-only", "-fno-stack-protector", "-fno-tree-loop-distribute-patterns",
                     "-fvisibility=hidden", "-Wall", "-Wl,-z,defs", "-o", "<@(_outputs)", "<@(_inputs)"]
        }
      ]
    }
  ]
}
