package scsi

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
)

// memBackend is a flat in-memory Backend for tests (package backstore
// imports scsi, so it cannot be used here).
type memBackend struct {
	b      []byte
	nflush atomic.Int64
	failRW bool
}

var errTest = ErrUnmapUnsupported

func (m *memBackend) ReadAt(p []byte, off int64) (int, error) {
	if m.failRW {
		return 0, errTest
	}
	return copy(p, m.b[off:]), nil
}
func (m *memBackend) WriteAt(p []byte, off int64) (int, error) {
	if m.failRW {
		return 0, errTest
	}
	return copy(m.b[off:], p), nil
}
func (m *memBackend) Flush() error             { m.nflush.Add(1); return nil }
func (m *memBackend) flushes() int64           { return m.nflush.Load() }
func (m *memBackend) Unmap(off, n int64) error { return ErrUnmapUnsupported }
func (m *memBackend) Size() int64              { return int64(len(m.b)) }
func (m *memBackend) Close() error             { return nil }

var nexusA = Nexus{InitiatorName: "iqn.2024-01.test:a", ISID: 1, TargetName: "iqn.2024-01.test:tgt", TPGT: 1}
var nexusB = Nexus{InitiatorName: "iqn.2024-01.test:b", ISID: 2, TargetName: "iqn.2024-01.test:tgt", TPGT: 1}

const testBlocks = 2048

func newTarget(t testing.TB, cfg LUConfig) (*Target, *memBackend) {
	t.Helper()
	bs := cfg.BlockSize
	if bs == 0 {
		bs = 512
	}
	m := &memBackend{b: make([]byte, testBlocks*int(bs))}
	if cfg.Backend == nil {
		cfg.Backend = m
	}
	tg := NewTarget(nil)
	if err := tg.AddLU(0, cfg); err != nil {
		t.Fatal(err)
	}
	// Consume the power-on unit attention for nexusA.
	c := run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0)
	if c.Status != CheckCondition {
		t.Fatalf("expected power-on UA, got %v", c.Status)
	}
	return tg, m
}

func cdb(op byte, n int) []byte {
	b := make([]byte, n)
	b[0] = op
	return b
}

func run(tg *Target, n Nexus, lun uint64, cdb []byte, out []byte, inLen int) *Command {
	c := &Command{Nexus: n, LUN: lun, CDB: cdb, DataOut: out, DataIn: make([]byte, inLen)}
	tg.Execute(c)
	return c
}

func rw10(op byte, lba uint32, n uint16) []byte {
	b := cdb(op, 10)
	binary.BigEndian.PutUint32(b[2:], lba)
	binary.BigEndian.PutUint16(b[7:], n)
	return b
}

func rw16(op byte, lba uint64, n uint32) []byte {
	b := cdb(op, 16)
	binary.BigEndian.PutUint64(b[2:], lba)
	binary.BigEndian.PutUint32(b[10:], n)
	return b
}

func rw12(op byte, lba uint32, n uint32) []byte {
	b := cdb(op, 12)
	binary.BigEndian.PutUint32(b[2:], lba)
	binary.BigEndian.PutUint32(b[6:], n)
	return b
}

// wantSense checks CHECK CONDITION with key/asc (and optionally the field
// pointer when fp >= 0).
func wantSense(t *testing.T, c *Command, key byte, asc ASC) Sense {
	t.Helper()
	if c.Status != CheckCondition {
		t.Fatalf("status %#x, want CHECK CONDITION (%#x/%#04x)", c.Status, key, asc)
	}
	s, err := ParseSense(c.Sense)
	if err != nil {
		t.Fatalf("sense %x: %v", c.Sense, err)
	}
	if s.Key != key || s.ASC != asc {
		t.Fatalf("sense key %#x asc %#04x, want %#x/%#04x", s.Key, s.ASC, key, asc)
	}
	return s
}

func wantGood(t *testing.T, c *Command) {
	t.Helper()
	if c.Status != Good {
		s, _ := ParseSense(c.Sense)
		t.Fatalf("status %#x sense %+v, want GOOD", c.Status, s)
	}
}
