package initiator

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/xtgt/xtgt/iscsi/pdu"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

// Result is the outcome of a SCSI command that the target completed.
type Result struct {
	Status byte // SAM status (0 GOOD, 2 CHECK CONDITION, ...)
	// Sense is the decoded sense data, valid when HasSense.
	Sense    scsi.Sense
	HasSense bool
	// Residual is the residual count; ResidualFlags holds the U/O bits (pdu.RespUnderflow, pdu.RespOverflow).
	Residual      uint32
	ResidualFlags byte
}

// Err returns a *StatusError for a status other than GOOD, nil otherwise.
func (r *Result) Err() error {
	if r.Status == 0 {
		return nil
	}
	return &StatusError{Status: r.Status, Sense: r.Sense, HasSense: r.HasSense}
}

// Do runs one SCSI command on lun: cdb (up to 260 bytes), with dataOut written to the target or dataIn filled
// from it (at most one of them; bidirectional commands are not supported). The returned error is a transport
// or protocol failure; a completed command with a non-GOOD status is reported in Result.
func (s *Session) Do(ctx context.Context, lun uint64, cdb, dataOut, dataIn []byte) (Result, error) {
	return s.do(ctx, lun, cdb, dataOut, dataIn, 0)
}

var errBidi = errors.New("initiator: bidirectional commands are not supported")

func (s *Session) do(ctx context.Context, lun uint64, cdb, dataOut, dataIn []byte, attr uint8) (Result, error) {
	var res Result
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if len(dataOut) > 0 && len(dataIn) > 0 {
		return res, errBidi
	}
	if len(cdb) == 0 || len(cdb) > 16+255 {
		return res, fmt.Errorf("initiator: CDB of %d bytes", len(cdb))
	}
	if uint64(len(dataOut)) > 1<<32-1 || uint64(len(dataIn)) > 1<<32-1 {
		return res, errors.New("initiator: transfer longer than 4 GiB")
	}
	t, err := s.getTask(ctx, kindSCSI)
	if err != nil {
		return res, err
	}
	h := t.cmd.out.BHS()
	h.SetOpcode(pdu.OpSCSICommand)
	h.SetAttr(attr)
	h.SetLUN(scsi.EncodeLUN(lun))
	h.SetITT(t.itt.Load())
	copy(h.CDB(), cdb)
	if len(cdb) > 16 {
		spec := t.ahs[:0]
		var ext [1 + 255]byte
		n := copy(ext[1:], cdb[16:])
		t.cmd.out.AHS = pdu.AppendAHS(spec, pdu.AHSExtendedCDB, ext[:1+n])
	}
	var unsolicited uint32
	final := true
	switch {
	case len(dataIn) > 0:
		h.SetRead(true)
		h.SetEDTL(uint32(len(dataIn)))
		t.dataIn = dataIn
	case len(dataOut) > 0:
		h.SetWrite(true)
		h.SetEDTL(uint32(len(dataOut)))
		t.dataOut = dataOut
		p := &s.params
		edtl := uint32(len(dataOut))
		if p.ImmediateData {
			imm := min(edtl, p.FirstBurstLength, p.PeerMaxRecvDataSegmentLength)
			t.cmd.out.Data = dataOut[:imm]
			unsolicited = imm
		}
		if !p.InitialR2T {
			unsolicited = min(edtl, p.FirstBurstLength)
			if unsolicited > uint32(len(t.cmd.out.Data)) {
				final = false // unsolicited Data-Out follows
			}
		}
	}
	h.SetFinal(final)
	completed, err := s.exec(ctx, t, false, unsolicited)
	if !completed {
		return res, err
	}
	res.Status = t.status
	res.Residual = t.residual
	res.ResidualFlags = t.resFlags
	if t.senseLen > 0 {
		if sn, perr := scsi.ParseSense(t.sense[:t.senseLen]); perr == nil {
			res.Sense, res.HasSense = sn, true
		}
	}
	s.putTask(t)
	return res, err
}

// blockSize returns the logical block length of lun, reading it with READ CAPACITY(16) the first time.
func (s *Session) blockSize(ctx context.Context, lun uint64) (uint32, error) {
	s.bsMu.RLock()
	bs, ok := s.bs[lun]
	s.bsMu.RUnlock()
	if ok {
		return bs, nil
	}
	_, bs, err := s.ReadCapacity(ctx, lun)
	return bs, err
}

// ReadCapacity returns the number of logical blocks of lun and their length (READ CAPACITY(16)).
func (s *Session) ReadCapacity(ctx context.Context, lun uint64) (blocks uint64, blockSize uint32, err error) {
	var cdb [16]byte
	cdb[0] = 0x9e // SERVICE ACTION IN(16)
	cdb[1] = 0x10 // READ CAPACITY(16)
	binary.BigEndian.PutUint32(cdb[10:], 32)
	var buf [32]byte
	res, err := s.Do(ctx, lun, cdb[:], nil, buf[:])
	if err != nil {
		return 0, 0, fmt.Errorf("initiator: read capacity: %w", err)
	}
	if err := res.Err(); err != nil {
		return 0, 0, fmt.Errorf("initiator: read capacity: %w", err)
	}
	blocks = binary.BigEndian.Uint64(buf[0:]) + 1
	blockSize = binary.BigEndian.Uint32(buf[8:])
	if blockSize == 0 {
		return 0, 0, fmt.Errorf("%w: block length 0", ErrProtocol)
	}
	s.bsMu.Lock()
	s.bs[lun] = blockSize
	s.bsMu.Unlock()
	return blocks, blockSize, nil
}

// errShort reports a transfer that moved less data than asked for.
var errShort = errors.New("initiator: short transfer")

func (s *Session) rw(ctx context.Context, lun, lba uint64, buf []byte, write, fua bool) error {
	bs, err := s.blockSize(ctx, lun)
	if err != nil {
		return err
	}
	if len(buf) == 0 || len(buf)%int(bs) != 0 {
		return fmt.Errorf("initiator: buffer of %d bytes is not a multiple of the %d-byte block", len(buf), bs)
	}
	var cdb [16]byte
	cdb[0] = 0x88 // READ(16)
	if write {
		cdb[0] = 0x8a // WRITE(16)
	}
	if fua {
		cdb[1] = 0x08
	}
	binary.BigEndian.PutUint64(cdb[2:], lba)
	binary.BigEndian.PutUint32(cdb[10:], uint32(len(buf)/int(bs)))
	var res Result
	if write {
		res, err = s.do(ctx, lun, cdb[:], buf, nil, 1)
	} else {
		res, err = s.do(ctx, lun, cdb[:], nil, buf, 1)
	}
	if err != nil {
		return err
	}
	if res.Status != 0 {
		return res.Err()
	}
	if res.Residual != 0 && res.ResidualFlags != 0 {
		return fmt.Errorf("%w: residual %d", errShort, res.Residual)
	}
	return nil
}

// ReadAt reads len(buf) bytes (a multiple of the block length) from lun at lba with READ(16).
func (s *Session) ReadAt(ctx context.Context, lun, lba uint64, buf []byte) error {
	return s.rw(ctx, lun, lba, buf, false, false)
}

// WriteAt writes buf (a multiple of the block length) to lun at lba with WRITE(16), FUA when fua.
func (s *Session) WriteAt(ctx context.Context, lun, lba uint64, buf []byte, fua bool) error {
	return s.rw(ctx, lun, lba, buf, true, fua)
}

// Inquiry returns the standard INQUIRY data (evpd false) or the VPD page (evpd true).
func (s *Session) Inquiry(ctx context.Context, lun uint64, evpd bool, page byte) ([]byte, error) {
	var cdb [6]byte
	cdb[0] = 0x12
	if evpd {
		cdb[1] = 1
		cdb[2] = page
	}
	const alloc = 255
	binary.BigEndian.PutUint16(cdb[3:], alloc)
	buf := make([]byte, alloc)
	res, err := s.Do(ctx, lun, cdb[:], nil, buf)
	if err != nil {
		return nil, fmt.Errorf("initiator: inquiry: %w", err)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("initiator: inquiry: %w", err)
	}
	n := alloc
	if res.ResidualFlags&pdu.RespUnderflow != 0 && res.Residual <= alloc {
		n = alloc - int(res.Residual)
	}
	return buf[:n], nil
}

// TestUnitReady sends TEST UNIT READY.
func (s *Session) TestUnitReady(ctx context.Context, lun uint64) error {
	var cdb [6]byte
	res, err := s.Do(ctx, lun, cdb[:], nil, nil)
	if err != nil {
		return err
	}
	return res.Err()
}

// SyncCache sends SYNCHRONIZE CACHE(16) for the whole LUN.
func (s *Session) SyncCache(ctx context.Context, lun uint64) error {
	var cdb [16]byte
	cdb[0] = 0x91
	res, err := s.Do(ctx, lun, cdb[:], nil, nil)
	if err != nil {
		return err
	}
	return res.Err()
}

// LUN is a handle on one logical unit of a session.
type LUN struct {
	s *Session
	n uint64
}

// LUN returns a handle on logical unit n.
func (s *Session) LUN(n uint64) LUN { return LUN{s: s, n: n} }

// Number is the LUN.
func (l LUN) Number() uint64 { return l.n }

// ReadAt reads from the unit; see Session.ReadAt.
func (l LUN) ReadAt(ctx context.Context, lba uint64, buf []byte) error {
	return l.s.ReadAt(ctx, l.n, lba, buf)
}

// WriteAt writes to the unit; see Session.WriteAt.
func (l LUN) WriteAt(ctx context.Context, lba uint64, buf []byte, fua bool) error {
	return l.s.WriteAt(ctx, l.n, lba, buf, fua)
}

// ReadCapacity returns the unit's size; see Session.ReadCapacity.
func (l LUN) ReadCapacity(ctx context.Context) (uint64, uint32, error) {
	return l.s.ReadCapacity(ctx, l.n)
}

// Do runs a CDB on the unit; see Session.Do.
func (l LUN) Do(ctx context.Context, cdb, dataOut, dataIn []byte) (Result, error) {
	return l.s.Do(ctx, l.n, cdb, dataOut, dataIn)
}
