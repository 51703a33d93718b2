#!/usr/bin/env python3
"""bench-readme - the README's block of benchmark figures, from what
`make bench` printed (issue 20: "the README's performance section is
regenerated from it with the date and machine").

    bench-readme.py --header            the machine line to put first in the log
    bench-readme.py LOG README.md       rewrites the block between the markers
    bench-readme.py LOG                 prints the block

`make bench-readme` runs both: the header and `make bench` into
build/bench.log, then the rewrite. The block quotes the lines the
benchmarks printed (whitespace squeezed), so what the README says is what
the run said; a figure the log lacks is shown as "not in this run", never
invented. Everything outside the markers is left as it is.
"""
import os
import re
import subprocess
import sys

BEGIN = "<!-- bench-readme: begin -->"
END = "<!-- bench-readme: end -->"
HEADER = "bench-readme machine:"


def header():
    """One line: date, CPUs and model, kernel, load, the commit."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True,
                                check=False).stdout.strip() or "?"
    except OSError:
        commit = "?"
    load = open("/proc/loadavg").read().split()[0]
    date = subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"],
                          capture_output=True, text=True).stdout.strip()
    return (f"{HEADER} {date}; {os.cpu_count()} CPUs ({model}); "
            f"Linux {os.uname().release}; load average {load} at start; "
            f"main at {commit}")


def squeeze(s):
    return re.sub(r"\s+", " ", s.strip())


def first(lines, pattern):
    rx = re.compile(pattern)
    for line in lines:
        if rx.search(line):
            return squeeze(line)
    return None


# label, benchmark, regular expressions of the lines quoted (in order)
FIGURES = [
    ("an idle node, IP/TCP headers counted", "bench_idle.sh",
     [r"^defaults: ping after", r"a dead link is noticed within",
      r"^before: heartbeat every"]),
    ("one closed loop (refer, received, accepted, in-progress, completed, "
     "with receipts)", "bench_wire", [r"^\s+closed loop\s"]),
    ("node CPU per closed loop and RSS", "bench_wire",
     [r"^CPU per closed loop", r"^node RSS, agency", r"^node RSS, clinic"]),
    ("10,000 enrolled, 5,000 CURVE clients connected", "bench_connect",
     [r"^connect: \d+ clients admitted", r"^broker RSS:",
      r"^broker CPU at idle", r"^routing agency -> clinic",
      r"^restart: broker listening"]),
    ("the directory (10,000 enrolled: in pages) on a first session, a "
     "reconnect, a change (a delta), the node's restart and a change "
     "while the broker was down",
     "bench_dir",
     [r"^directory of 10000 nodes, first session",
      r"^directory of 10000 nodes, after a broker restart",
      r"^directory of 10000 nodes, one certificate changed: \d+ B",
      r"^directory of 10000 nodes, one certificate changed: the node spent",
      r"^directory of 10000 nodes, the node restarted",
      r"^directory of 10000 nodes, one certificate changed while"]),
    ("broker restart with 100,000 envelopes queued", "bench_restart",
     [r"^restart \(cold page cache\)", r"^restart \(warm page cache\)"]),
    ("broker routing, full bench_broker", "bench_broker",
     [r"^median of \d+ rounds\s+env/s",
      r"passerelle end to end \(acc->dlv->taken\)",
      r"ratio passerelle/raw, end to end"]),
    ("this machine's disk: raw LMDB commits", "bench_commits",
     [r"one environment, one thread"]),
]


def throughput(lines):
    """The window pairs of bench_rabbitmq.sh: one dict each."""
    pairs, cur = [], None
    for line in lines:
        m = re.match(r"bench_rabbitmq: (\d+) rounds alternating;.* window "
                     r"(\d+) \(RabbitMQ (\d+)\)", line)
        if m:
            cur = {"rounds": m.group(1), "pw": m.group(2), "rw": m.group(3)}
            pairs.append(cur)
            continue
        if cur is None:
            continue
        for key, rx in (
                ("pl", r"^\s+passerelle end to end .*?(\d+) env/s"),
                ("raw", r"^\s+bare CURVE ROUTER .*?(\d+) msg/s"),
                ("quorum", r"^\s+RabbitMQ .* quorum queue .*?(\d+) msg/s"),
                ("r_quorum", r"ratio passerelle / RabbitMQ quorum\s+([\d.]+)"),
                ("r_raw", r"ratio passerelle / bare ROUTER\s+([\d.]+)"),
                ("p50", r"^\s+passerelle\s+p50\s+([\d.]+) ms"),
                ("m_pl", r"^\s+passerelle\s+([\d.]+) us\s+(\d+) % busy"),
                ("m_raw", r"^\s+bare ROUTER\s+([\d.]+) us\s+(\d+) % busy"),
                ("m_q", r"^\s+quorum\s+([\d.]+) us\s+(\d+) % busy")):
            m = re.search(rx, line)
            if m and key not in cur:
                cur[key] = m.groups() if key.startswith("m_") else m.group(1)
    return pairs


def block(text):
    lines = text.splitlines()
    out = [BEGIN,
           "<!-- generated by scripts/bench-readme.py from `make bench`'s "
           "output (`make bench-readme`); edit the script, not this block -->",
           ""]
    h = first(lines, "^" + re.escape(HEADER))
    out.append("Figures printed by `make bench`, "
               + (h[len(HEADER):].strip() if h else "machine not recorded")
               + ".")
    out.append("")
    pairs = [p for p in throughput(lines) if "pl" in p]
    if pairs:
        out += ["Broker throughput (`bench_rabbitmq.sh`: end to end, "
                "loopback, medians of alternating rounds; Passerelle moves "
                "CURVE-encrypted 4 KiB buckets with fdatasync before "
                "`accepted`, RabbitMQ 1 KiB with publisher confirms):", "",
                "| window Passerelle : RabbitMQ | Passerelle env/s (p50) | "
                "bare ROUTER | RabbitMQ quorum | / quorum (goal ≥ 1) | "
                "/ ROUTER (goal ≥ 0.6) | machine µs per message, busy: "
                "Passerelle, ROUTER, quorum |",
                "|---|---|---|---|---|---|---|"]
        for p in pairs:
            def m(k):
                v = p.get(k)
                return f"{v[0]} ({v[1]} %)" if v else "?"
            out.append(
                f"| {p['pw']} : {p['rw']} ({p['rounds']} rounds) "
                f"| {p['pl']} ({p.get('p50', '?')} ms) "
                f"| {p.get('raw', '?')} | {p.get('quorum', 'not run')} "
                f"| {p.get('r_quorum', '–')} | {p.get('r_raw', '?')} "
                f"| {m('m_pl')}, {m('m_raw')}, {m('m_q')} |")
        out.append("")
    else:
        out += ["Broker throughput: not in this run.", ""]
    out += ["| figure | printed (benchmark) |", "|---|---|"]
    for label, bench, rxs in FIGURES:
        got = [first(lines, rx) for rx in rxs]
        got = [g for g in got if g]
        cell = "<br>".join("`" + g.replace("`", "'").replace("|", "/") + "`"
                           for g in got) if got else "not in this run"
        out.append(f"| {label} | {cell} ({bench}) |")
    out.append(END)
    return "\n".join(out) + "\n"


def main(argv):
    if argv[1:] == ["--header"]:
        print(header())
        return 0
    if len(argv) not in (2, 3) or argv[1].startswith("-"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], errors="replace") as f:
        new = block(f.read())
    if len(argv) == 2:
        sys.stdout.write(new)
        return 0
    with open(argv[2]) as f:
        readme = f.read()
    if readme.count(BEGIN) != 1 or readme.count(END) != 1 \
            or readme.index(BEGIN) > readme.index(END):
        print(f"bench-readme: {argv[2]} needs one '{BEGIN}' line and one "
              f"'{END}' line after it", file=sys.stderr)
        return 1
    a = readme.index(BEGIN)
    b = readme.index(END) + len(END)
    if b < len(readme) and readme[b] == "\n":
        b += 1
    tmp = argv[2] + ".tmp"
    with open(tmp, "w") as f:
        f.write(readme[:a] + new + readme[b:])
    os.replace(tmp, argv[2])
    print(f"bench-readme: {argv[2]} updated from {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
