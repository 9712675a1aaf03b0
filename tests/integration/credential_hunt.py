#!/usr/bin/env python3
"""A hostile command trial: tries every way it knows to reach a credential of the worker running it,
then tries to create a study with each token it found (through hpoctl). Run by credential_test.cc.

It writes a JSON report to --report:
  ways    [{"way": what it tried, "outcome": "blocked: ...", "nothing" or "found ..."}]
  tokens  [{"source": where, "token": the token}]   every distinct token it could read
  paths   [{"source": where, "path": a path}]       every credential path it saw
  env     its own environment, argv its own argv
  submits [{"source": ..., "exit": hpoctl's exit code, "output": its stderr and stdout}]
and prints the metrics line {"found": tokens found, "created": studies created}.
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys

TOKEN_FLAGS = ("--token-file", "--worker-token-file", "--read-token-file", "--tls-key")
TOKEN_RE = re.compile(r"^[\x21-\x7e]{16,}$")

report = {"ways": [], "tokens": [], "paths": [], "submits": []}
tokens = {}  # token -> source
paths = {}  # path -> source


def way(name, outcome):
    report["ways"].append({"way": name, "outcome": outcome})


def add_token(token, source):
    token = token.strip()
    if TOKEN_RE.match(token) and token not in tokens:
        tokens[token] = source


def add_path(path, source):
    if path and path not in paths:
        paths[path] = source


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def looks_like_credential(name):
    return "TOKEN" in name or name.startswith("HPO_TLS_") or name == "CREDENTIALS_DIRECTORY"


def scan_environment(entries, source):
    """entries: NAME=value strings. Tokens and paths in credential-named variables."""
    for entry in entries:
        name, _, value = entry.partition("=")
        if not looks_like_credential(name):
            continue
        if name.endswith("_FILE") or name.startswith("HPO_TLS_"):
            add_path(value, source + " $" + name)
        elif name == "CREDENTIALS_DIRECTORY":
            for path in glob.glob(os.path.join(value, "*")):
                add_path(path, source + " $CREDENTIALS_DIRECTORY")
        else:
            add_token(value, source + " $" + name)


def scan_cmdline(argv, source):
    for i, arg in enumerate(argv):
        for flag in TOKEN_FLAGS:
            if arg == flag and i + 1 < len(argv):
                add_path(argv[i + 1], source + " " + flag)
            elif arg.startswith(flag + "="):
                add_path(arg[len(flag) + 1 :], source + " " + flag)


def proc_read(pid, what):
    """The bytes of /proc/<pid>/<what>, recording the way; None when refused."""
    path = "/proc/%d/%s" % (pid, what)
    try:
        data = read_bytes(path)
    except OSError as e:
        way(path, "blocked: " + e.strerror)
        return None
    way(path, "read %d bytes" % len(data))
    return data


def parent_of(pid):
    try:
        stat = read_bytes("/proc/%d/stat" % pid).decode(errors="replace")
        return int(stat[stat.rindex(")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def try_memory(pid):
    """Reads the first readable mapping of /proc/<pid>/mem: a process whose memory can be read gives its
    token away, wherever it keeps it."""
    try:
        maps = read_bytes("/proc/%d/maps" % pid).decode(errors="replace").splitlines()
        with open("/proc/%d/mem" % pid, "rb") as mem:
            for line in maps:
                fields = line.split()
                if len(fields) < 2 or "r" not in fields[1]:
                    continue
                start, end = (int(x, 16) for x in fields[0].split("-"))
                mem.seek(start)
                data = mem.read(min(end - start, 1 << 20))
                way("/proc/%d/mem" % pid, "found: read %d bytes of memory" % len(data))
                return
        way("/proc/%d/mem" % pid, "nothing readable")
    except (OSError, ValueError, OverflowError) as e:
        way("/proc/%d/mem" % pid, "blocked: " + (getattr(e, "strerror", None) or str(e)))


def probe(pid):
    environ = proc_read(pid, "environ")
    if environ is not None:
        scan_environment([e.decode(errors="replace") for e in environ.split(b"\0") if e],
                         "/proc/%d/environ" % pid)
    cmdline = proc_read(pid, "cmdline")
    if cmdline is not None:
        scan_cmdline([a.decode(errors="replace") for a in cmdline.split(b"\0")], "/proc/%d/cmdline" % pid)
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
        way("/proc/%d/fd" % pid, "found: listed %d descriptors" % len(fds))
        for fd in fds:
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                if target.startswith("/") and not target.startswith("/dev/"):
                    add_path(target, "/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                pass
    except OSError as e:
        way("/proc/%d/fd" % pid, "blocked: " + e.strerror)
    try:
        way("/proc/%d/cwd" % pid, "found: " + os.readlink("/proc/%d/cwd" % pid))
    except OSError as e:
        way("/proc/%d/cwd" % pid, "blocked: " + e.strerror)
    try_memory(pid)


def hunt():
    # 1. Its own environment and argv.
    report["env"] = dict(os.environ)
    report["argv"] = sys.argv
    scan_environment(["%s=%s" % kv for kv in os.environ.items()], "own environment")
    scan_cmdline(sys.argv, "own argv")
    way("own environment", "scanned %d variables" % len(os.environ))

    # 2. The parent chain (the worker first), then every other hpo-worker process (the guards of its
    #    trials, other workers): environ, cmdline, open files, working directory, memory.
    pid = os.getppid()
    chain = []
    while pid > 1 and len(chain) < 16:
        chain.append(pid)
        probe(pid)
        pid = parent_of(pid)
    report["chain"] = chain
    workers = []
    for entry in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            argv0 = read_bytes(entry).split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if argv0.endswith("hpo-worker"):
            workers.append(int(entry.split("/")[2]))
    report["workers"] = sorted(workers)
    for pid in workers:
        if pid not in chain:
            probe(pid)

    # 3. Every other process's command line (world-readable): a token file named on one.
    for entry in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            argv = [a.decode(errors="replace") for a in read_bytes(entry).split(b"\0")]
        except OSError:
            continue
        scan_cmdline(argv, entry)
    way("every /proc/*/cmdline", "scanned")

    # 4. Guessable places, and the neighbours of every path seen.
    guesses = [os.path.expanduser("~/.hpo/token"), "/etc/hpo/token", "/run/hpo/token"]
    guesses += glob.glob("/etc/hpo/*") + glob.glob("/run/credentials/*/*")
    for path in guesses:
        add_path(path, "guess")
    for path in list(paths):
        for neighbour in glob.glob(os.path.join(os.path.dirname(path), "*token*")):
            add_path(neighbour, "beside " + path)

    # 5. Read every path.
    for path, source in sorted(paths.items()):
        report["paths"].append({"source": source, "path": path})
        try:
            data = read_bytes(path).decode(errors="replace")
        except OSError as e:
            way("read " + path, "blocked: " + e.strerror)
            continue
        way("read " + path, "found %d bytes" % len(data))
        add_token(data, "file " + path + " (" + source + ")")


def submit(hpoctl, coordinator, study_file):
    """Tries to create a study with each token found; returns how many were created."""
    created = 0
    for token, source in tokens.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith("HPO_TOKEN")}
        env["HPO_TOKEN"] = token
        run = subprocess.run([hpoctl, "--coordinator", coordinator, "submit", study_file], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        output = run.stdout.decode(errors="replace")
        report["submits"].append({"source": source, "exit": run.returncode, "output": output})
        created += 1 if run.returncode == 0 else 0
    return created


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--report", required=True)
    parser.add_argument("--hpoctl", required=True)
    parser.add_argument("--coordinator", required=True)
    args, _ = parser.parse_known_args()  # a study may add --NAME=VALUE parameters
    study_file = os.path.join(os.path.dirname(args.report), "evil.json")
    with open(study_file, "w") as f:
        json.dump({"name": "evil", "objectives": [{"name": "f1"}, {"name": "f2"}],
                   "budget": {"max_trials": 1},
                   "task": {"synthetic": {"function": "zdt1", "dims": 4}}, "seed": 1}, f)
    hunt()
    created = submit(args.hpoctl, args.coordinator, study_file)
    report["tokens"] = [{"source": s, "token": t} for t, s in tokens.items()]
    with open(args.report + ".tmp", "w") as f:
        json.dump(report, f, indent=1)
    os.rename(args.report + ".tmp", args.report)
    print(json.dumps({"found": len(tokens), "created": created}))


if __name__ == "__main__":
    main()
