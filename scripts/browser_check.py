#!/usr/bin/env python3
"""Loads gotrace HTML reports in headless Chromium and checks them against `gotrace report --format json`.

For each trace: writes the report page and the JSON report in one `gotrace report` run, loads the page
(`chromium --headless --dump-dom`, console on stderr), fails on any JavaScript error, reads the numbers the
page's script filled in (elements with ids, see docs/report.md) and compares them with the JSON, then saves a
screenshot. Python standard library only.

Usage: browser_check.py --gotrace PATH --out DIR [--screenshot-to FILE] TRACE...
"""
import argparse
import html.parser
import json
import os
import subprocess
import sys
import time


class ById(html.parser.HTMLParser):
    """Text and attributes of every element that has an id."""

    def __init__(self):
        super().__init__()
        self.elements = {}
        self.open = []  # ids whose text is being collected
        self.body = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.body = attrs
        if "id" in attrs:
            self.elements[attrs["id"]] = {"attrs": attrs, "text": ""}
            if tag not in ("input", "br", "img", "meta"):
                self.open.append((tag, attrs["id"]))
        for _, ident in self.open:
            pass

    def handle_endtag(self, tag):
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index]
                break

    def handle_data(self, data):
        for _, ident in self.open:
            self.elements[ident]["text"] += data


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        for directory in os.environ.get("PATH", "").split(":"):
            path = os.path.join(directory, name)
            if os.access(path, os.X_OK):
                return path
    sys.exit("browser-check: chromium not found")


def run_browser(browser, page, extra):
    command = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
               "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000"] + extra + ["file://" + page]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    return result, time.monotonic() - started


def console_errors(stderr):
    bad = []
    for line in stderr.splitlines():
        if "Uncaught" in line or ("CONSOLE" in line and ("ERROR" in line or "error" in line.lower())):
            bad.append(line.strip())
    return bad


def check(gotrace, trace, out, screenshot_to):
    name = os.path.splitext(os.path.basename(trace))[0]
    page = os.path.abspath(os.path.join(out, name + ".html"))
    report = subprocess.run([gotrace, "report", trace, "--format", "json", "--analyzer", "leak", "--analyzer", "latency",
                             "--analyzer", "html-report", "--html", page, "--no-progress"],
                            capture_output=True, text=True)
    if report.returncode != 0:
        return ["gotrace report failed (%d): %s" % (report.returncode, report.stderr.strip())]
    expected = json.loads(report.stdout)
    browser = chromium()
    problems = []
    dom, seconds = run_browser(browser, page, ["--dump-dom"])
    problems += ["console: " + line for line in console_errors(dom.stderr)]
    parser = ById()
    parser.feed(dom.stdout)
    found = parser.elements

    def text(ident):
        return found.get(ident, {}).get("text", "").strip()

    def attr(ident, key):
        return found.get(ident, {}).get("attrs", {}).get(key)

    if parser.body.get("data-ready") != "1":
        problems.append("the page's script did not finish (no <body data-ready=\"1\">)")
    if text("errors"):
        problems.append("the page reported: " + text("errors"))
    leak, latency, data = expected["leak"], expected["latency"], expected["html-report"]
    checks = [("leaked-count", text("leaked-count"), str(leak["leaked"])),
              ("goroutines-created", text("goroutines-created"), str(data["summary"]["goroutinesCreated"])),
              ("busy-percent", text("busy-percent"), str(data["summary"]["busyPercent"])),
              ("latency-scheduling-p99", attr("latency-scheduling-p99", "data-ns"), str(latency["scheduling"]["p99Ns"]))]
    if data["topBlocking"]:
        checks.append(("top-blocking-function", text("top-blocking-function"), data["topBlocking"][0]["function"]))
    if data["topCPU"]:
        checks.append(("top-cpu-function", text("top-cpu-function"), data["topCPU"][0]["function"]))
    for ident, shown, wanted in checks:
        try:  # numbers compare as numbers (JSON's 14.0 is JavaScript's 14)
            same = float(shown) == float(wanted)
        except (TypeError, ValueError):
            same = shown == wanted
        if not same:
            problems.append("#%s shows %r, the JSON report says %r" % (ident, shown, wanted))
    # The page's self-test drives the keyboard zoom and pan, a goroutine selection and the flame graph search.
    selftest, _ = run_browser(browser, page + "#selftest", ["--dump-dom"])
    problems += ["console (self-test): " + line for line in console_errors(selftest.stderr)]
    tested = ById()
    tested.feed(selftest.stdout)
    if tested.body.get("data-selftest") != "ok":
        problems.append("self-test: %s" % tested.body.get("data-selftest", "did not run"))
    drawn = int(attr("timeline-canvas", "data-drawn") or 0)
    if data["timeline"]["procs"] and drawn == 0:
        problems.append("the timeline drew nothing")
    if data["flamegraphs"]["block"] and "block-details" not in found:
        problems.append("the block flame graph is missing")
    shot = os.path.join(out, name + ".png")
    shot_result, _ = run_browser(browser, page, ["--screenshot=" + os.path.abspath(shot), "--window-size=1280,1800"])
    problems += ["console (screenshot run): " + line for line in console_errors(shot_result.stderr)]
    if not os.path.exists(shot):
        problems.append("no screenshot")
    elif screenshot_to:
        os.replace(shot, screenshot_to)
        shot = screenshot_to
    size = os.path.getsize(page)
    print("%-12s %9d bytes  self-test %s  leaked=%s  top blocking=%s  scheduling p99=%s ns  drawn=%d  script %s ms  load %.1f s  %s"
          % (name, size, tested.body.get("data-selftest"), text("leaked-count"), text("top-blocking-function")[:40] or "-",
             attr("latency-scheduling-p99", "data-ns"), drawn, parser.body.get("data-render-ms"), seconds, shot))
    return problems


def main():
    arguments = argparse.ArgumentParser()
    arguments.add_argument("--gotrace", required=True)
    arguments.add_argument("--out", required=True)
    arguments.add_argument("--screenshot-to", help="save the first trace's screenshot here (e.g. docs/report.png)")
    arguments.add_argument("traces", nargs="+")
    options = arguments.parse_args()
    os.makedirs(options.out, exist_ok=True)
    failed = False
    for index, trace in enumerate(options.traces):
        problems = check(options.gotrace, trace, options.out, options.screenshot_to if index == 0 else None)
        for problem in problems:
            print("FAIL %s: %s" % (trace, problem))
        failed = failed or bool(problems)
    print("browser-check: " + ("FAILED" if failed else "all pages passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
