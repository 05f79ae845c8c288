package iwarp

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Stream is the ordered, reliable byte stream under MPA (the LLP of RFC 5044).
type Stream interface {
	// Next returns the next non-empty view of received in-order bytes. The view stays valid until
	// Release; a zero-copy provider may return its own buffers (for example UMEM frames).
	Next() ([]byte, error)
	// Release ends the use of the view returned by the last Next.
	Release()
	// Writev sends the concatenation of bufs in order. It may rewrite the slice headers in bufs.
	Writev(bufs [][]byte) error
	// MSS is the current effective maximum segment size (for MULPDU).
	MSS() int
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	Close() error
}

// ConnStream adapts a net.Conn (normally *net.TCPConn) to Stream; it reads into one buffer it owns.
type ConnStream struct {
	conn net.Conn
	buf  []byte
	bufs net.Buffers
	mss  int
}

// NewConnStream wraps c with a receive buffer of bufSize bytes.
func NewConnStream(c net.Conn, bufSize int) *ConnStream {
	s := &ConnStream{conn: c, buf: make([]byte, bufSize), mss: 1460}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		if rc, err := tc.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) {
				if v, err := unix.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, unix.TCP_MAXSEG); err == nil && v > 0 {
					s.mss = v
				}
			})
		}
	}
	return s
}

func (s *ConnStream) Next() ([]byte, error) {
	n, err := s.conn.Read(s.buf)
	if n > 0 {
		return s.buf[:n], nil
	}
	return nil, err
}

func (s *ConnStream) Release() {}

func (s *ConnStream) Writev(bufs [][]byte) error {
	s.bufs = bufs
	_, err := s.bufs.WriteTo(s.conn)
	s.bufs = nil
	return err
}

func (s *ConnStream) MSS() int             { return s.mss }
func (s *ConnStream) LocalAddr() net.Addr  { return s.conn.LocalAddr() }
func (s *ConnStream) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }
func (s *ConnStream) Close() error         { return s.conn.Close() }

// CloseWrite half-closes a TCP stream (sends FIN) so a Terminate is read before the connection goes.
func (s *ConnStream) CloseWrite() error {
	if tc, ok := s.conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return s.conn.Close()
}
