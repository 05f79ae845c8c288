package pdu

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
)

// Protocol outcomes of reading a PDU.
var (
	// ErrHeaderDigest: the header digest did not match; the stream can no longer be trusted (§7.8).
	ErrHeaderDigest = errors.New("pdu: header digest mismatch")
	// ErrDataDigest: the data digest did not match; the PDU was consumed and may be rejected (§7.8).
	ErrDataDigest = errors.New("pdu: data digest mismatch")
	// ErrDataTooLong: the data segment exceeds what this side declared in MaxRecvDataSegmentLength.
	ErrDataTooLong = errors.New("pdu: data segment longer than MaxRecvDataSegmentLength")
)

// Reader reads PDUs from a byte stream in two steps, header then data, so that the caller can place a data
// segment straight into its final buffer.
type Reader struct {
	r            *bufio.Reader
	HeaderDigest bool
	DataDigest   bool
	// MaxData bounds DataSegmentLength; zero means the protocol maximum (2^24-1).
	MaxData int

	ahs     [MaxAHSLength + DigestLen]byte
	pending int // data segment bytes (with padding and digest) of the current PDU not yet consumed
	dsl     int
	digest  [DigestLen]byte
	tail    [4 + DigestLen]byte
}

// NewReader returns a Reader with a read buffer of size bytes over r.
func NewReader(r io.Reader, size int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, size)}
}

// Buffered reports how many bytes are already buffered (a cheap "more input is ready" check for batching).
func (r *Reader) Buffered() int { return r.r.Buffered() }

// ReadHeader reads the BHS into h (len ≥ 48) and the AHS, and checks the header digest. The returned AHS slice
// is valid until the next ReadHeader. A data segment left unread from the previous PDU is discarded first.
// ErrDataTooLong is returned with h filled in, so the caller can reject the PDU; the data is then skipped
// by DiscardData.
func (r *Reader) ReadHeader(h BHS) (ahs []byte, err error) {
	if r.pending > 0 {
		if err := r.DiscardData(); err != nil {
			return nil, err
		}
	}
	if _, err := io.ReadFull(r.r, h[:BHSLen]); err != nil {
		return nil, err
	}
	n := h.TotalAHSLength()
	ahs = r.ahs[:n]
	if n > 0 {
		if _, err := io.ReadFull(r.r, ahs); err != nil {
			return nil, fmt.Errorf("pdu: read AHS: %w", noEOF(err))
		}
	}
	if r.HeaderDigest {
		if _, err := io.ReadFull(r.r, r.digest[:]); err != nil {
			return nil, fmt.Errorf("pdu: read header digest: %w", noEOF(err))
		}
		crc := CRC32C(h[:BHSLen])
		if n > 0 {
			crc = UpdateCRC32C(crc, ahs)
		}
		if crc != Digest(r.digest[:]) {
			return nil, ErrHeaderDigest
		}
	}
	r.dsl = h.DataSegmentLength()
	r.pending = r.dsl + Pad(r.dsl)
	if r.DataDigest && r.dsl > 0 {
		r.pending += DigestLen
	}
	if r.MaxData > 0 && r.dsl > r.MaxData {
		return ahs, ErrDataTooLong
	}
	return ahs, nil
}

// ReadData reads the current PDU's data segment into dst, which must be exactly DataSegmentLength long, and
// checks the data digest. On ErrDataDigest the segment has been consumed and the stream is still in step.
func (r *Reader) ReadData(dst []byte) error {
	if len(dst) != r.dsl || r.pending == 0 && r.dsl > 0 {
		return fmt.Errorf("pdu: ReadData of %d bytes, segment is %d", len(dst), r.dsl)
	}
	if r.dsl == 0 {
		return nil
	}
	if _, err := io.ReadFull(r.r, dst); err != nil {
		return fmt.Errorf("pdu: read data segment: %w", noEOF(err))
	}
	pad := Pad(r.dsl)
	t := r.tail[:pad]
	if r.DataDigest {
		t = r.tail[:pad+DigestLen]
	}
	if _, err := io.ReadFull(r.r, t); err != nil {
		return fmt.Errorf("pdu: read data padding: %w", noEOF(err))
	}
	r.pending = 0
	if r.DataDigest {
		crc := UpdateCRC32C(CRC32C(dst), t[:pad])
		if crc != Digest(t[pad:]) {
			return ErrDataDigest
		}
	}
	return nil
}

// DiscardData skips the rest of the current PDU's data segment.
func (r *Reader) DiscardData() error {
	if r.pending == 0 {
		return nil
	}
	_, err := r.r.Discard(r.pending)
	r.pending = 0
	if err != nil {
		return fmt.Errorf("pdu: skip data segment: %w", noEOF(err))
	}
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Out is one outgoing PDU. It must stay unchanged until the Writer holding it is flushed.
type Out struct {
	// Hdr is the BHS with room for the header digest.
	Hdr  [BHSLen + DigestLen]byte
	AHS  []byte
	Data []byte
	tail [4 + DigestLen]byte
}

// BHS returns the header as a view.
func (o *Out) BHS() BHS { return o.Hdr[:BHSLen] }

// Reset clears the header and drops the AHS and data references.
func (o *Out) Reset() {
	o.Hdr = [BHSLen + DigestLen]byte{}
	o.AHS, o.Data = nil, nil
}

// Writer gathers PDUs into one vectored write.
type Writer struct {
	w            io.Writer
	HeaderDigest bool
	DataDigest   bool
	bufs         net.Buffers
	vec          [][]byte
	queued       int
}

// VectorWriter is a writer with a gather write of its own (the userspace TCP engine's
// connection: it copies each buffer once, straight into transmit frames).
type VectorWriter interface {
	Writev(bufs [][]byte) (int, error)
}

// NewWriter returns a Writer over w (a *net.TCPConn gets writev, a VectorWriter its Writev).
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, vec: make([][]byte, 0, 64)} }

// Queue appends o to the pending write, setting its DataSegmentLength and TotalAHSLength and computing digests.
func (w *Writer) Queue(o *Out) {
	h := o.BHS()
	h.SetDataSegmentLength(len(o.Data))
	h.SetTotalAHSLength(len(o.AHS))
	if w.HeaderDigest {
		crc := CRC32C(o.Hdr[:BHSLen])
		if len(o.AHS) > 0 {
			crc = UpdateCRC32C(crc, o.AHS)
			w.vec = append(w.vec, o.Hdr[:BHSLen], o.AHS)
			PutDigest(o.Hdr[BHSLen:], crc)
			w.vec = append(w.vec, o.Hdr[BHSLen:])
		} else {
			PutDigest(o.Hdr[BHSLen:], crc)
			w.vec = append(w.vec, o.Hdr[:])
		}
	} else {
		w.vec = append(w.vec, o.Hdr[:BHSLen])
		if len(o.AHS) > 0 {
			w.vec = append(w.vec, o.AHS)
		}
	}
	if n := len(o.Data); n > 0 {
		w.vec = append(w.vec, o.Data)
		pad := Pad(n)
		o.tail = [4 + DigestLen]byte{}
		t := o.tail[:pad]
		if w.DataDigest {
			PutDigest(o.tail[pad:], UpdateCRC32C(CRC32C(o.Data), o.tail[:pad]))
			t = o.tail[:pad+DigestLen]
		}
		if len(t) > 0 {
			w.vec = append(w.vec, t)
		}
	}
	w.queued++
}

// Queued is the number of PDUs waiting for Flush.
func (w *Writer) Queued() int { return w.queued }

// Flush writes every queued PDU.
func (w *Writer) Flush() error {
	if len(w.vec) == 0 {
		return nil
	}
	var err error
	if vw, ok := w.w.(VectorWriter); ok {
		_, err = vw.Writev(w.vec)
	} else {
		w.bufs = w.vec
		_, err = w.bufs.WriteTo(w.w)
	}
	clear(w.vec)
	w.vec = w.vec[:0]
	w.bufs = nil
	w.queued = 0
	if err != nil {
		return fmt.Errorf("pdu: write: %w", err)
	}
	return nil
}
