package backstore

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/xtgt/xtgt/iscsi/scsi"
)

func TestRAM(t *testing.T) {
	r, err := NewRAM(3*ramPageSize + 4096)
	if err != nil {
		t.Fatal(err)
	}
	if r.Allocated() != 0 {
		t.Fatal("fresh RAM disk allocated memory")
	}
	buf := make([]byte, 8192)
	for i := range buf {
		buf[i] = 0xFF
	}
	if n, err := r.ReadAt(buf, ramPageSize-4096); err != nil || n != 8192 || bytes.Count(buf, []byte{0}) != 8192 {
		t.Fatalf("unwritten read: %d %v", n, err)
	}
	pat := bytes.Repeat([]byte("xtgt"), 2048)
	if _, err := r.WriteAt(pat, ramPageSize-4096); err != nil { // straddles pages 0 and 1
		t.Fatal(err)
	}
	if r.Allocated() != 2*ramPageSize {
		t.Fatalf("allocated %d", r.Allocated())
	}
	if _, err := r.ReadAt(buf, ramPageSize-4096); err != nil || !bytes.Equal(buf, pat) {
		t.Fatal("read back mismatch")
	}
	if m, ext, _ := r.Mapped(0, r.Size()); !m || ext != 2*ramPageSize {
		t.Errorf("Mapped(0) = %v %d", m, ext)
	}
	if m, ext, _ := r.Mapped(2*ramPageSize, r.Size()); m || ext != ramPageSize+4096 {
		t.Errorf("Mapped(hole) = %v %d", m, ext)
	}
	// Unmap: page 1 whole is freed, partial page 0 tail zeroed.
	if err := r.Unmap(ramPageSize-1024, ramPageSize+1024); err != nil {
		t.Fatal(err)
	}
	if r.Allocated() != ramPageSize {
		t.Errorf("after unmap allocated %d", r.Allocated())
	}
	r.ReadAt(buf, ramPageSize-4096)
	if !bytes.Equal(buf[:3072], pat[:3072]) || bytes.Count(buf[3072:], []byte{0}) != len(buf)-3072 {
		t.Error("unmap content wrong")
	}
	// Last partial page can be freed whole.
	r.WriteAt([]byte{1}, 3*ramPageSize)
	if err := r.Unmap(3*ramPageSize, 4096); err != nil || r.pages[3].Load() != nil {
		t.Error("tail page not freed")
	}
	for _, tc := range []struct{ off, n int64 }{{-1, 1}, {r.Size(), 1}, {r.Size() - 1, 2}} {
		if _, err := r.ReadAt(make([]byte, tc.n), tc.off); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("ReadAt(%d,%d) = %v", tc.off, tc.n, err)
		}
		if _, err := r.WriteAt(make([]byte, tc.n), tc.off); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("WriteAt(%d,%d) = %v", tc.off, tc.n, err)
		}
	}
	if err := r.Unmap(0, r.Size()+1); !errors.Is(err, ErrOutOfRange) {
		t.Error("oversized unmap accepted")
	}
	r.Close()
	if _, err := r.ReadAt(buf, 0); !errors.Is(err, ErrClosed) {
		t.Error("read after close")
	}
	if _, err := NewRAM(0); err == nil {
		t.Error("zero size accepted")
	}
}

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lun.img")
	const size = 64 << 20
	f, err := OpenFile(path, size, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size || st.Blocks*512 > 1<<20 {
		t.Fatalf("not sparse: size %d blocks %d", st.Size, st.Blocks)
	}
	pat := bytes.Repeat([]byte{0xAB}, 4<<20)
	if _, err := f.WriteAt(pat, 8<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(pat))
	if _, err := f.ReadAt(got, 8<<20); err != nil || !bytes.Equal(got, pat) {
		t.Fatalf("read back: %v", err)
	}
	syscall.Stat(path, &st)
	written := st.Blocks * 512
	if written < 4<<20 {
		t.Fatalf("allocated %d after 4 MiB write", written)
	}
	if m, ext, err := f.Mapped(0, size); err != nil || m || ext != 8<<20 {
		t.Errorf("Mapped(0) = %v %d %v", m, ext, err)
	}
	if m, ext, err := f.Mapped(8<<20, size); err != nil || !m || ext != 4<<20 {
		t.Errorf("Mapped(data) = %v %d %v", m, ext, err)
	}
	err = f.Unmap(8<<20, 4<<20)
	if errors.Is(err, scsi.ErrUnmapUnsupported) {
		t.Skipf("filesystem of %s cannot punch holes", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	syscall.Stat(path, &st)
	if st.Blocks*512 > written-4<<20+64<<10 || st.Size != size {
		t.Errorf("punch hole: blocks %d (was %d) size %d", st.Blocks*512, written, st.Size)
	}
	f.ReadAt(got, 8<<20)
	if bytes.Count(got, []byte{0}) != len(got) {
		t.Error("hole does not read as zeros")
	}
	if _, err := f.WriteAt([]byte{1}, size); !errors.Is(err, ErrOutOfRange) {
		t.Error("write past end accepted")
	}
	// Reopen with size 0 keeps the size; read-only cannot grow.
	g, err := OpenFile(path, 0, FileOptions{ReadOnly: true})
	if err != nil || g.Size() != size {
		t.Fatalf("reopen: %v", err)
	}
	g.Close()
	if _, err := OpenFile(path, 2*size, FileOptions{ReadOnly: true}); err == nil {
		t.Error("read-only grow accepted")
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "none"), 0, FileOptions{}); err == nil {
		t.Error("missing file with size 0 accepted")
	}
	if _, err := OpenFile(t.TempDir(), 0, FileOptions{}); err == nil {
		t.Error("directory accepted")
	}
}

func TestParseSizeAndOpen(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "4K": 4096, "1M": 1 << 20, "1G": 1 << 30, "2T": 2 << 40, "3GiB": 3 << 30, "8kb": 8192} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "-1", "1X", "G", "99999999999T", "1.5G"} {
		if _, err := ParseSize(in); !errors.Is(err, ErrBadSpec) {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	b, err := Open("ram:1G")
	if err != nil || b.Size() != 1<<30 {
		t.Fatalf("ram:1G: %v", err)
	}
	b.Close()
	path := filepath.Join(t.TempDir(), "x.img")
	b, err = Open("file:" + path + ":16M")
	if err != nil || b.Size() != 16<<20 {
		t.Fatalf("file spec: %v", err)
	}
	b.Close()
	if b, err = Open("file:" + path); err != nil || b.Size() != 16<<20 {
		t.Fatalf("file spec without size: %v", err)
	}
	b.Close()
	for _, spec := range []string{"", "ram", "ram:", "ram:abc", "disk:/x", "file:", "file::1G", "file:" + path + ":zz", "block:/nonexistent/dev"} {
		if _, err := Open(spec); err == nil {
			t.Errorf("Open(%q) accepted", spec)
		}
	}
	if _, err := Open("block:" + path); err == nil || !strings.Contains(err.Error(), "not a block device") {
		t.Errorf("block on a regular file: %v", err)
	}
}

func TestBlockLoop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loop device")
	}
	losetup, err := exec.LookPath("losetup")
	if err != nil {
		t.Skip("losetup not installed")
	}
	img := filepath.Join(t.TempDir(), "loop.img")
	f, err := OpenFile(img, 8<<20, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command(losetup, "--find", "--show", img).Output()
	if err != nil {
		t.Skipf("loop device unavailable: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	defer exec.Command(losetup, "-d", dev).Run()
	b, err := OpenBlock(dev, false)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != 8<<20 {
		t.Fatalf("size %d", b.Size())
	}
	pat := bytes.Repeat([]byte{7}, 4096)
	if _, err := b.WriteAt(pat, 4096); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4096)
	if _, err := b.ReadAt(got, 4096); err != nil || !bytes.Equal(got, pat) {
		t.Fatalf("read back: %v", err)
	}
	if err := b.Unmap(0, 1<<20); err != nil && !errors.Is(err, scsi.ErrUnmapUnsupported) {
		t.Fatalf("discard: %v", err)
	}
}

func BenchmarkRAM4K(b *testing.B) {
	r, _ := NewRAM(64 << 20)
	buf := make([]byte, 4096)
	b.SetBytes(4096)
	b.ReportAllocs()
	var off int64
	for b.Loop() {
		r.WriteAt(buf, off)
		r.ReadAt(buf, off)
		off = (off + 4096) % (64 << 20)
	}
}

// TestRAMPageCopiesAreWhole: writers of whole-page buffers with different patterns and a reader
// of the same page run concurrently; every read must see one writer's page, never a mix.
func TestRAMPageCopiesAreWhole(t *testing.T) {
	r, err := NewRAM(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := byte(1); w <= 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := bytes.Repeat([]byte{w}, ramPageSize)
			for i := 0; i < 400; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := r.WriteAt(buf, ramPageSize); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	got := make([]byte, ramPageSize)
	for i := 0; i < 400; i++ {
		if _, err := r.ReadAt(got, ramPageSize); err != nil {
			t.Fatal(err)
		}
		if first := got[0]; bytes.Count(got, []byte{first}) != len(got) {
			close(stop)
			wg.Wait()
			t.Fatalf("read %d saw a torn page (starts with %d)", i, first)
		}
	}
	wg.Wait()
}
