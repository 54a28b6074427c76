"""The interactive shell on a pseudo-terminal: prompt, help, tab completion, errors that
do not end the session, history file."""
import os
import pty
import select
import subprocess
import termios
import time


class Pty:
    def __init__(self, cli_bin, home):
        self.master, slave = pty.openpty()
        env = dict(os.environ, HOME=str(home), TERM="xterm")
        self.proc = subprocess.Popen([cli_bin], stdin=slave, stdout=slave, stderr=slave, env=env,
                                     close_fds=True)
        os.close(slave)
        self.buf = b""

    def read_until(self, needle, timeout=5):
        needle = needle.encode()
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} not seen; got {self.buf[-2000:]!r}")
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    self.buf += os.read(self.master, 4096)
                except OSError:
                    break
        idx = self.buf.index(needle) + len(needle)
        seen, self.buf = self.buf[:idx], self.buf[idx:]
        return seen.decode(errors="replace")

    def send(self, text):
        # The shell prints its prompt before it puts the terminal into raw mode; a key sent in
        # between is read by the cooked line discipline (a Ctrl-D there becomes an end-of-file
        # mark, which arrives as a NUL byte once raw mode is on). Wait for raw mode first.
        deadline = time.monotonic() + 5
        while termios.tcgetattr(self.master)[3] & termios.ICANON and time.monotonic() < deadline:
            time.sleep(0.005)
        os.write(self.master, text.encode())

    def close(self):
        try:
            self.proc.wait(timeout=5)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            os.close(self.master)


def test_interactive_session(cli_bin, broker, topic, tmp_path):
    t = Pty(cli_bin, tmp_path)
    try:
        t.read_until("musqratt> ")
        t.send("hel\t\n")  # tab completes the command name
        t.read_until("Commands (help COMMAND for details)")
        t.read_until("musqratt> ")
        t.send("bogus\n")
        t.read_until("error: unknown command 'bogus'")
        t.read_until("musqratt> ")  # the shell keeps going
        t.send(f"connect tty --port {broker.port}\n")
        t.read_until("connected tty (session present: no)")
        t.read_until("musqratt[tty]> ")
        t.send(f"sub {topic}\n")
        t.read_until("granted qos 0")
        t.send(f"pub {topic} hi\n")
        t.read_until(f"{topic} qos=0 retain=0 hi")
        t.send("quit\n")
        t.close()
        assert t.proc.returncode == 0
        # libedit stores spaces as \040
        history = (tmp_path / ".musqratt_cli_history").read_text().replace("\\040", " ").splitlines()
        assert "help" in history and "bogus" in history and f"pub {topic} hi" in history
    finally:
        if t.proc.poll() is None:
            t.proc.kill()


def test_interactive_eof_exits(cli_bin, tmp_path):
    t = Pty(cli_bin, tmp_path)
    t.read_until("musqratt> ")
    t.send("\x04")  # Ctrl-D
    t.close()
    assert t.proc.returncode == 0
