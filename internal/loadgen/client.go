package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// doer sends one request and returns the answer's status code and the
// start of its body (up to maxKeptBody bytes).
type doer interface {
	do(method, url string, header [][2]string, body []byte) (int, []byte, error)
	close()
}

// maxKeptBody is how much of an answer's body a worker keeps (for the
// report of an unexpected answer); the rest is read and dropped.
const maxKeptBody = 4096

// requestTimeout bounds one request, as http.Client.Timeout did.
const requestTimeout = 30 * time.Second

// newDoer returns a worker's client for requests to base (scheme and
// host of the URLs it will be given): for http, a minimal HTTP/1.1
// client on one keep-alive connection (rawConn); for anything else,
// net/http.
//
// The load generator shares the machine with the server it measures, so
// its own CPU comes off the server's. net/http's client costs about a
// third of a core at 12,000 requests/s (a read and a write goroutine per
// connection and a channel hand-off each way, header maps, a Request per
// call); rawConn writes each request with one write from a reused buffer
// and parses the answer in place, as wrk does. It does not pipeline: each
// worker waits for its answer before its next request, as net/http did.
func newDoer(base string, dialer *net.Dialer, transport func() *http.Transport) doer {
	if host, ok := strings.CutPrefix(base, "http://"); ok && host != "" && !strings.ContainsAny(host, "/?#@") {
		addr := host
		if _, _, err := net.SplitHostPort(host); err != nil {
			addr = net.JoinHostPort(host, "80")
		}
		return &rawConn{prefix: base, host: host, addr: addr, dialer: dialer}
	}
	return &stdClient{client: &http.Client{Timeout: requestTimeout, Transport: transport()}}
}

// baseOf is the scheme and host of u ("http://127.0.0.1:8080").
func baseOf(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return scheme + "://" + rest
}

// stdClient is a doer through net/http.
type stdClient struct{ client *http.Client }

func (s *stdClient) do(method, url string, header [][2]string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	for _, h := range header {
		req.Header.Set(h[0], h[1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	kept, err := io.ReadAll(io.LimitReader(resp.Body, maxKeptBody))
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, kept, err
}

func (s *stdClient) close() { s.client.CloseIdleConnections() }

// rawConn is a minimal HTTP/1.1 client on one keep-alive connection, for
// http URLs starting with prefix. It is not safe for concurrent use: one
// worker owns it.
type rawConn struct {
	prefix, host, addr string
	dialer             *net.Dialer

	c    net.Conn
	br   *bufio.Reader
	wbuf []byte
	body []byte
}

func (r *rawConn) close() {
	if r.c != nil {
		r.c.Close()
		r.c = nil
	}
}

func (r *rawConn) do(method, url string, header [][2]string, body []byte) (status int, kept []byte, err error) {
	target, ok := strings.CutPrefix(url, r.prefix)
	if !ok || target == "" || target[0] != '/' {
		return 0, nil, fmt.Errorf("%s is not a URL under %s", url, r.prefix)
	}
	if r.c == nil {
		c, err := r.dialer.Dial("tcp", r.addr)
		if err != nil {
			return 0, nil, err
		}
		r.c = c
		if r.br == nil {
			r.br = bufio.NewReaderSize(c, 16<<10)
		} else {
			r.br.Reset(c)
		}
	}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if err := r.c.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
		return 0, nil, err
	}
	b := append(r.wbuf[:0], method...)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, r.host...)
	b = append(b, "\r\n"...)
	for _, h := range header {
		b = append(b, h[0]...)
		b = append(b, ": "...)
		b = append(b, h[1]...)
		b = append(b, "\r\n"...)
	}
	if body != nil || method == http.MethodPost {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	r.wbuf = b
	if _, err := r.c.Write(b); err != nil {
		return 0, nil, err
	}
	return r.readResponse(method)
}

var errMalformed = errors.New("malformed HTTP answer")

// readResponse reads one answer: status line, headers, and a body framed
// by Content-Length, chunked encoding, or the end of the connection.
func (r *rawConn) readResponse(method string) (int, []byte, error) {
	line, err := r.line()
	if err != nil {
		return 0, nil, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, nil, fmt.Errorf("%w: status line %q", errMalformed, cutQuote(line))
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: status line %q", errMalformed, cutQuote(line))
	}
	length, chunked, closing := int64(-1), false, line[7] == '0'
	for {
		line, err := r.line()
		if err != nil {
			return 0, nil, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, nil, fmt.Errorf("%w: header %q", errMalformed, cutQuote(line))
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, nil, fmt.Errorf("%w: Content-Length %q", errMalformed, cutQuote(value))
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = closing || bytes.EqualFold(value, []byte("close"))
		}
	}
	r.body = r.body[:0]
	switch {
	case method == http.MethodHead || status == http.StatusNoContent || status == http.StatusNotModified || status/100 == 1:
	case chunked:
		err = r.readChunked()
	case length >= 0:
		err = r.readN(length)
	default:
		err = r.readN(-1)
		closing = true
	}
	if err != nil {
		return 0, nil, err
	}
	if closing {
		r.close()
	}
	return status, r.body, nil
}

// line reads one header line without its CRLF; it is valid until the next
// read.
func (r *rawConn) line() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: header line over %d bytes", errMalformed, r.br.Size())
		}
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// readN reads n bytes of body (to the end of the connection when n < 0),
// keeping the first maxKeptBody.
func (r *rawConn) readN(n int64) error {
	var src io.Reader = r.br
	if n >= 0 {
		src = io.LimitReader(r.br, n)
	}
	if cap(r.body) < maxKeptBody {
		r.body = make([]byte, 0, maxKeptBody)
	}
	k, err := io.ReadFull(src, r.body[:maxKeptBody])
	r.body = r.body[:k]
	var m int64
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// The whole body fitted.
	case err != nil:
		return err
	default:
		if m, err = io.Copy(io.Discard, src); err != nil {
			return err
		}
	}
	if n >= 0 && int64(k)+m < n {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// readChunked reads a chunked body and its trailer.
func (r *rawConn) readChunked() error {
	for {
		line, err := r.line()
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("%w: chunk size %q", errMalformed, cutQuote(line))
		}
		if size == 0 {
			for {
				line, err := r.line()
				if err != nil {
					return err
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		keep := min(size, int64(max(0, maxKeptBody-len(r.body))))
		if keep > 0 {
			start := len(r.body)
			r.body = append(r.body, make([]byte, keep)...)
			if _, err := io.ReadFull(r.br, r.body[start:]); err != nil {
				return err
			}
		}
		if _, err := r.br.Discard(int(size - keep)); err != nil {
			return err
		}
		if line, err := r.line(); err != nil || len(line) != 0 {
			return fmt.Errorf("%w: no CRLF after a chunk", errMalformed)
		}
	}
}

func cutQuote(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
