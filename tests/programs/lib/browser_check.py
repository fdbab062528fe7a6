#!/usr/bin/env python3
"""browser_check.py — opens henbun's run and compare pages in headless Chromium and checks
them as a person would see them: no console errors, every image loads, the live page
reloads itself and shows a new epoch, the compare page lists every run.  Screenshots go
to SHOTS.  Python's standard library only: Chromium is driven through its DevTools
protocol over a WebSocket, whose client side (a few dozen lines) is written out below.

usage: browser_check.py SHOTS RUN_DIR COMPARE_PAGE RUN_NAMES FAKE_RUN REPORT
       browser_check.py --shot PAGE.html OUT.png [WIDTH [HEIGHT]]   (a screenshot, no checks)
  RUN_DIR      a run folder whose run.json says "running" and whose page reloads every 4 s
  RUN_NAMES    the runs the compare page must list, comma-separated
  FAKE_RUN     tests/programs/lib/fake_run built (appends an epoch: FAKE_RUN --append DIR)
  REPORT       build/report (rewrites the page)
Exit status 0 when every check passed; each check prints "ok ..." or "FAIL ...".
"""
import base64, json, os, shutil, signal, socket, struct, subprocess, sys, tempfile, time
import urllib.parse, urllib.request

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class WebSocket:
    """The client side of RFC 6455, text frames only: enough for the DevTools protocol."""

    def __init__(self, url, timeout=30):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise IOError("the DevTools socket closed during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise IOError("WebSocket handshake refused: " + head.split(b"\r\n")[0].decode())
        self.buf = b""

    def _exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise IOError("the DevTools socket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, text):
        self._frame(0x1, text.encode())

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            mask = self._exact(4) if b1 & 0x80 else None
            data = self._exact(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 0x9:          # ping
                self._frame(0xA, data)
                continue
            if opcode == 0x8:
                raise IOError("the DevTools socket was closed by Chromium")
            if opcode in (0x0, 0x1, 0x2):
                message += data
                if b0 & 0x80:
                    return message.decode()


class Browser:
    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="henbun-chromium-")
        self.proc = subprocess.Popen([binary] + FLAGS + [f"--user-data-dir={self.profile}",
                                                         "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 60
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if self.proc.poll() is not None:
                raise IOError(f"{binary} exited at once (status {self.proc.returncode})")
            if time.time() > deadline:
                raise IOError(f"{binary} did not open its DevTools port within 60 s")
            time.sleep(0.1)
        time.sleep(0.2)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                                   timeout=30))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.next_id = 0
        self.width, self.max_height = 1280, 6000
        self.events = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  width=1280, height=900, deviceScaleFactor=1, mobile=False)

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def call(self, method, timeout=60, **params):
        """The answer to one command; IOError if none comes within timeout seconds (events
        keep arriving while a page reloads itself, so the socket's own timeout is not
        enough)."""
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        deadline = time.time() + timeout
        while True:
            if time.time() > deadline:
                raise IOError(f"{method}: no answer from Chromium within {timeout} s")
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mine:
                if "error" in msg:
                    raise IOError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method, timeout):
        """The next event of this kind (queued or arriving within timeout seconds), or None."""
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["method"] == method:
                    return self.events.pop(i)
            left = deadline - time.time()
            if left <= 0:
                return None
            self.ws.sock.settimeout(left)
            try:
                msg = json.loads(self.ws.recv())
            except socket.timeout:
                return None
            finally:
                self.ws.sock.settimeout(30)
            if "method" in msg:
                self.events.append(msg)

    def errors(self):
        """Console errors, uncaught exceptions and failed loads seen so far (and forgets them)."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append("exception: " + p["exceptionDetails"].get("text", "?"))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + " ".join(str(a.get("value", "")) for a in p["args"]))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"{p['entry']['source']}: {p['entry']['text']} {p['entry'].get('url', '')}")
        self.events = [e for e in self.events if e["method"] not in
                       ("Runtime.exceptionThrown", "Runtime.consoleAPICalled", "Log.entryAdded")]
        return out

    def open(self, url):
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        self.call("Page.navigate", url=url)
        if not self.wait_event("Page.loadEventFired", 30):
            raise IOError(f"{url} did not finish loading within 30 s")

    def js(self, expr):
        r = self.call("Runtime.evaluate", timeout=20, expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            raise IOError(f"{expr}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def screenshot(self, path):
        m = self.call("Page.getLayoutMetrics")
        size = m.get("cssContentSize") or m["contentSize"]
        height = min(int(size["height"]) + 1, self.max_height)
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1})
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))


failed = 0


def check(what, good, detail=""):
    global failed
    print(("ok   " if good else "FAIL ") + what + ("" if good else f": {detail}"))
    if not good:
        failed = 1


# One look at the page, in one evaluation (a self-reloading page could otherwise change
# between two questions), taken after its load event, which waits for every image to load
# or fail (a broken link has naturalWidth 0): the images, the charts, the rows of the log,
# whether the page reloads itself.  Nothing is awaited: a reload cannot leave it hanging.
LOOK = """(() => {
  const imgs = Array.from(document.images);
  return {images: imgs.map(i => [decodeURIComponent(i.getAttribute('src')), i.complete && i.naturalWidth > 0]),
          svgs: document.querySelectorAll('svg').length,
          rows: document.body.dataset.rows,
          refresh: !!document.querySelector('meta[http-equiv=refresh]')};
})()"""


def look_at(b):
    """LOOK, again if a reload replaced the document while it ran."""
    for attempt in range(3):
        try:
            return b.js(LOOK)
        except IOError:
            if attempt == 2:
                raise
            b.wait_event("Page.loadEventFired", 5)


def page_checks(b, name, url, shot, want_images):
    b.open(url)
    look = look_at(b)
    errs = b.errors()
    check(f"{name}: loads with no console errors", not errs, "; ".join(errs))
    imgs = look["images"]
    broken = [src for src, ok in imgs if not ok]
    check(f"{name}: every image resolves ({len(imgs)} images)", imgs and not broken,
          "broken: " + ", ".join(broken) if broken else "no images")
    if want_images is not None:
        check(f"{name}: {want_images} images", len(imgs) == want_images, f"found {len(imgs)}")
    b.screenshot(shot)
    print(f"     screenshot {shot}")
    return look


def main():
    if len(sys.argv) in (4, 5, 6) and sys.argv[1] == "--shot":
        binary = find_chromium()
        if not binary:
            sys.exit("Chromium is missing: apt-get install chromium")
        b = Browser(binary)
        try:
            if len(sys.argv) == 6:
                b.max_height = int(sys.argv[5])
            if len(sys.argv) >= 5:
                b.width = int(sys.argv[4])
                b.call("Emulation.setDeviceMetricsOverride", width=b.width, height=900,
                       deviceScaleFactor=1, mobile=False)
            b.open("file://" + urllib.parse.quote(os.path.abspath(sys.argv[2])))
            b.js(LOOK)
            b.screenshot(sys.argv[3])
        finally:
            b.close()
        return 0
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    shots, run_dir, compare, names, fake_run, report = sys.argv[1:]
    binary = find_chromium()
    if not binary:
        print("FAIL Chromium is missing: the browser test needs the Debian package `chromium` "
              "(install it with: apt-get install chromium, or sh scripts/install_deps.sh as root)")
        return 1
    def too_long(signum, frame):
        raise IOError("the browser test took more than 240 s: Chromium stopped answering?")
    signal.signal(signal.SIGALRM, too_long)
    signal.alarm(240)  # a watchdog: a hung browser fails the test instead of make test
    run_dir, compare = os.path.abspath(run_dir), os.path.abspath(compare)
    run_url = "file://" + urllib.parse.quote(os.path.join(run_dir, "index.html"))
    pngs = len([f for f in os.listdir(run_dir) if f.endswith(".png")])
    b = Browser(binary)
    try:
        look = page_checks(b, "run page", run_url, os.path.join(shots, "run_page.png"), pngs)
        check("run page: draws the log's charts and the bar charts", look["svgs"] >= 5,
              f"{look['svgs']} svg")
        rows = look["rows"]
        check("run page: a running run's page reloads itself", look["refresh"], "no meta refresh")

        # A new epoch: one more row in log.csv, the page written again; the open page must
        # reload by itself and show it.
        subprocess.run([fake_run, "--append", run_dir], check=True)
        subprocess.run([report, "--refresh", "4", run_dir], check=True, stdout=subprocess.DEVNULL)
        # A reload already under way may still show the old rows: wait for one that shows
        # the new epoch, up to 15 s.
        after, reloaded, deadline = rows, False, time.time() + 15
        while time.time() < deadline and int(after) != int(rows) + 1:
            if not b.wait_event("Page.loadEventFired", max(0.1, deadline - time.time())):
                break
            reloaded, after = True, look_at(b)["rows"]
        check("run page: the live refresh picks up a new epoch",
              reloaded and int(after) == int(rows) + 1,
              f"rows {rows} -> {after}" + ("" if reloaded else " (no reload within 15 s)"))
        errs = b.errors()
        check("run page: reloads with no console errors", not errs, "; ".join(errs))

        # The run ends: run.json says done, the last page has no refresh left.
        meta_path = os.path.join(run_dir, "run.json")
        meta = json.load(open(meta_path))
        meta["status"] = "done"
        json.dump(meta, open(meta_path, "w"), indent=2)
        subprocess.run([report, run_dir], check=True, stdout=subprocess.DEVNULL)
        still, reloaded, deadline = True, False, time.time() + 15
        while time.time() < deadline and still:
            if not b.wait_event("Page.loadEventFired", max(0.1, deadline - time.time())):
                break
            reloaded, still = True, look_at(b)["refresh"]
        check("run page: the final page stops reloading", reloaded and not still,
              "no reload within 15 s" if not reloaded else "the meta refresh is still there")
        b.screenshot(os.path.join(shots, "run_page_done.png"))

        want = names.split(",")
        cmp_url = "file://" + urllib.parse.quote(compare)
        page_checks(b, "compare page", cmp_url, os.path.join(shots, "compare_page.png"), None)
        listed = b.js("Array.from(document.querySelectorAll('#runlist tr.run td:nth-child(2)'))"
                      ".map(td => td.textContent.trim())")
        check(f"compare page lists every run ({len(want)})", sorted(listed) == sorted(want),
              f"listed {listed}, expected {want}")
        links = b.js("Array.from(document.querySelectorAll('#runlist a')).map(a => a.href)")
        missing = [h for h in links
                   if not os.path.exists(urllib.parse.unquote(urllib.parse.urlparse(h).path))]
        check("compare page: every run's link leads to its page", links and not missing,
              "missing: " + ", ".join(missing))
    finally:
        b.close()
    return failed


if __name__ == "__main__":
    sys.exit(main())
