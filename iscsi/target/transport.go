package target

import (
	"net"

	"github.com/xtgt/xtgt/iscsi/pdu"
)

// Transport carries one connection's PDUs. ReadHeader/ReadData/DiscardData are called only from the
// connection's receive goroutine; Queue/Flush only from its send goroutine.
type Transport interface {
	// ReadHeader reads the next BHS into h and returns its AHS (valid until the next call).
	ReadHeader(h pdu.BHS) (ahs []byte, err error)
	// ReadData reads the current PDU's data segment into dst (exactly DataSegmentLength bytes).
	ReadData(dst []byte) error
	// DiscardData skips the current PDU's data segment.
	DiscardData() error
	// Queue adds a PDU to the next Flush; o must stay untouched until Flush returns.
	Queue(o *pdu.Out)
	// Flush sends every queued PDU.
	Flush() error
	// SetDigests turns CRC32C header and data digests on or off (after login).
	SetDigests(header, data bool)
	// SetMaxRecvData bounds incoming data segments (our MaxRecvDataSegmentLength).
	SetMaxRecvData(n int)
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	Close() error
}

// TCPTransport is a Transport over a stream connection (kernel TCP, or any net.Conn).
type TCPTransport struct {
	nc net.Conn
	r  *pdu.Reader
	w  *pdu.Writer
}

// NewTCPTransport wraps nc.
func NewTCPTransport(nc net.Conn) *TCPTransport {
	return &TCPTransport{nc: nc, r: pdu.NewReader(nc, 256<<10), w: pdu.NewWriter(nc)}
}

func (t *TCPTransport) ReadHeader(h pdu.BHS) ([]byte, error) { return t.r.ReadHeader(h) }
func (t *TCPTransport) ReadData(dst []byte) error            { return t.r.ReadData(dst) }
func (t *TCPTransport) DiscardData() error                   { return t.r.DiscardData() }
func (t *TCPTransport) Queue(o *pdu.Out)                     { t.w.Queue(o) }
func (t *TCPTransport) Flush() error                         { return t.w.Flush() }
func (t *TCPTransport) SetMaxRecvData(n int)                 { t.r.MaxData = n }
func (t *TCPTransport) LocalAddr() net.Addr                  { return t.nc.LocalAddr() }
func (t *TCPTransport) RemoteAddr() net.Addr                 { return t.nc.RemoteAddr() }
func (t *TCPTransport) Close() error                         { return t.nc.Close() }

// SetDigests implements Transport.
func (t *TCPTransport) SetDigests(header, data bool) {
	t.r.HeaderDigest, t.r.DataDigest = header, data
	t.w.HeaderDigest, t.w.DataDigest = header, data
}

// Conn returns the underlying connection (for deadlines).
func (t *TCPTransport) Conn() net.Conn { return t.nc }
