#!/usr/bin/env python3
"""Prints what .NET's crash reports in a folder say: for each crashed process, its name and the crashed thread's frames.

`retain test` has the runtime write a crash report (DOTNET_EnableCrashReport) when a test process or a child of it
dies of a fault, so that a crash in CI, where only the output is kept, names where it happened.
Usage: tools/crash-digest.py FOLDER
"""
import glob
import json
import os
import sys

FRAMES = 25


def frame_text(frame):
    """A managed frame by its method and IL offset; a native one by its library and offset in it (for gdb's info symbol)."""
    if str(frame.get("is_managed")).lower() == "true":
        return f"{frame.get('filename', '?')} {frame.get('method_name', '?')} (IL {frame.get('il_offset', '?')})"
    return f"{frame.get('native_module', '?')}+{frame.get('native_image_offset', '?')} {frame.get('unmanaged_name', '')}".rstrip()


def main(folder):
    for path in sorted(glob.glob(os.path.join(folder, "*.crashreport.json"))):
        try:
            payload = json.load(open(path, encoding="utf-8"))["payload"]
        except (OSError, ValueError, KeyError) as e:
            print(f"crash report {path}: unreadable ({e})")
            continue
        crashed = [t for t in payload.get("threads", []) if str(t.get("crashed")).lower() == "true"]
        print(f"crash report: process {payload.get('process_name', '?')}")
        for thread in crashed:
            exception = thread.get("managed_exception_type")
            print(f"  crashed thread {thread.get('native_thread_id', '?')}" + (f", {exception}" if exception else ""))
            frames = [f for f in thread.get("stack_frames", []) if f.get("native_module") or f.get("filename")]
            for frame in frames[:FRAMES]:
                print("    " + frame_text(frame))


if __name__ == "__main__":
    main(sys.argv[1])
