package backstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/xtgt/xtgt/iscsi/scsi"
)

// TestFileUnmapThroughSCSI writes a file-backed LU, UNMAPs part of it with
// the SCSI command and checks that the file's allocated blocks drop, GET
// LBA STATUS reports the range deallocated and it reads back as zeros.
func TestFileUnmapThroughSCSI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lu.img")
	const size = 8 << 20
	f, err := OpenFile(path, size, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Unmap(0, 4096); errors.Is(err, scsi.ErrUnmapUnsupported) {
		t.Skip("file system cannot punch holes")
	}
	tg := scsi.NewTarget(nil)
	if err := tg.AddLU(0, scsi.LUConfig{Backend: f, BlockSize: 4096}); err != nil {
		t.Fatal(err)
	}
	n := scsi.Nexus{InitiatorName: "iqn.2024-01.test:a", ISID: 1}
	exec := func(cdb, out []byte, in int) *scsi.Command {
		c := &scsi.Command{Nexus: n, CDB: cdb, DataOut: out, DataIn: make([]byte, in)}
		tg.Execute(c)
		return c
	}
	exec([]byte{0, 0, 0, 0, 0, 0}, nil, 0) // power-on unit attention
	w := make([]byte, 16)
	w[0] = 0x8A
	binary.BigEndian.PutUint32(w[10:], 1024) // 4 MiB at LBA 0
	if c := exec(w, bytes.Repeat([]byte{0xC3}, 4<<20), 0); c.Status != scsi.Good {
		t.Fatalf("write status %#x", c.Status)
	}
	f.Flush()
	blocks := func() int64 {
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		return st.Blocks
	}
	before := blocks()
	// UNMAP LBAs 256..767 (2 MiB).
	pl := make([]byte, 24)
	binary.BigEndian.PutUint16(pl[0:], 22)
	binary.BigEndian.PutUint16(pl[2:], 16)
	binary.BigEndian.PutUint64(pl[8:], 256)
	binary.BigEndian.PutUint32(pl[16:], 512)
	if c := exec([]byte{0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, pl, 0); c.Status != scsi.Good {
		t.Fatalf("unmap status %#x sense % x", c.Status, c.Sense)
	}
	if after := blocks(); before-after < (2<<20)/512 {
		t.Fatalf("allocated 512-byte blocks %d -> %d: unmap freed too little", before, after)
	}
	gls := make([]byte, 16)
	gls[0], gls[1] = 0x9E, 0x12
	binary.BigEndian.PutUint64(gls[2:], 256)
	binary.BigEndian.PutUint32(gls[10:], 64)
	c := exec(gls, nil, 64)
	if c.Status != scsi.Good {
		t.Fatalf("get lba status %#x", c.Status)
	}
	d := c.DataIn[8:24]
	if binary.BigEndian.Uint64(d) != 256 || binary.BigEndian.Uint32(d[8:]) != 512 || d[12]&0x0F != 1 {
		t.Fatalf("first descriptor % x", d)
	}
	r := make([]byte, 10)
	r[0] = 0x28
	binary.BigEndian.PutUint32(r[2:], 300)
	r[8] = 1
	if c := exec(r, nil, 4096); c.Status != scsi.Good || bytes.Count(c.DataIn, []byte{0}) != 4096 {
		t.Fatal("deallocated block does not read as zeros")
	}
}
