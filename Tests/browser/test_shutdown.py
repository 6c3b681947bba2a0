"""Graceful shutdown with live-event streams open: SIGTERM ends every server-sent event stream at once, so that a
rolling update of the API role is not held up by browsers watching the live page (a stream has no end of its own,
and before, the server found a closed connection only at the next keep-alive write, up to 15 s later)."""
import signal
import socket
import time

from conftest import start_serve


def test_sigterm_ends_open_event_streams_at_once():
    process, serve = start_serve()
    try:
        _, token = serve.user("watcher@example.com", "a long enough password")
        port = int(serve.url.rsplit(":", 1)[1])
        streams = []
        for _ in range(3):
            stream = socket.create_connection(("127.0.0.1", port), timeout=5)
            stream.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
            assert b"HTTP/1.1 200" in stream.recv(4096)
            streams.append(stream)
        # One watcher goes away without a word (a closed tab); two still listen.
        streams.pop().close()
        time.sleep(0.5)
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        waited = time.monotonic() - sent
        assert waited < 5, f"serve took {waited:.1f} s to stop with event streams open"
        # The listening streams were ended by the server, not left hanging.
        for stream in streams:
            stream.settimeout(5)
            tail = b""
            while chunk := stream.recv(4096):
                tail += chunk
            stream.close()
    finally:
        if process.poll() is None:
            process.kill()


def test_a_connection_first_used_after_sigterm_is_closed_after_its_response():
    """A browser opens spare connections before it needs them. One still unused when SIGTERM comes is not told to
    close (the server's connection handler is set up by the first request), and the live page's event stream then
    reconnects on it: before, that kept the connection, and so serve, alive for as long as the tab stayed open."""
    process, serve = start_serve()
    try:
        port = int(serve.url.rsplit(":", 1)[1])
        spare = socket.create_connection(("127.0.0.1", port), timeout=5)
        time.sleep(0.5)
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        spare.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        answer = b""
        while chunk := spare.recv(4096):  # the server ends the connection after the response
            answer += chunk
        spare.close()
        assert answer.startswith(b"HTTP/1.1 "), answer
        assert process.wait(timeout=30) == 0
        waited = time.monotonic() - sent
        assert waited < 5, f"serve took {waited:.1f} s to stop"
    finally:
        if process.poll() is None:
            process.kill()
