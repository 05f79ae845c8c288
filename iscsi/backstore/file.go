package backstore

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// FileOptions tunes OpenFile.
type FileOptions struct {
	ReadOnly bool
	// Direct opens the file with O_DIRECT (callers must then use aligned
	// buffers and offsets).
	Direct bool
}

// File is a regular-file store: pread/pwrite, fdatasync, punch-hole unmap.
type File struct {
	f        *os.File
	size     int64
	readOnly bool
}

// OpenFile opens the file at path. When it does not exist and size > 0 it
// is created sparse with that size; when size > 0 and the file is smaller
// it is extended (sparsely). size 0 uses the file's current size.
func OpenFile(path string, size int64, opts FileOptions) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("open file store %s: negative size", path)
	}
	flags := os.O_RDWR
	if opts.ReadOnly {
		flags = os.O_RDONLY
	}
	if opts.Direct {
		flags |= unix.O_DIRECT
	}
	if size > 0 && !opts.ReadOnly {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open file store: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open file store: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open file store %s: not a regular file (use block: for devices)", path)
	}
	cur := st.Size()
	if size > cur {
		if opts.ReadOnly {
			f.Close()
			return nil, fmt.Errorf("open file store %s: file is %d bytes, read-only cannot grow to %d", path, cur, size)
		}
		if err := f.Truncate(size); err != nil {
			f.Close()
			return nil, fmt.Errorf("open file store: extend %s: %w", path, err)
		}
		cur = size
	}
	if cur == 0 {
		f.Close()
		return nil, fmt.Errorf("open file store %s: empty file and no size given", path)
	}
	return &File{f: f, size: cur, readOnly: opts.ReadOnly}, nil
}

// ReadAt reads from the file; reading past its end yields ErrOutOfRange.
func (s *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || int64(len(p)) > s.size-off {
		return 0, ErrOutOfRange
	}
	n, err := s.f.ReadAt(p, off)
	if err == io.EOF && n < len(p) {
		// The file shrank underneath us: the missing tail reads as zeros.
		clear(p[n:])
		return len(p), nil
	}
	return n, err
}

// WriteAt writes to the file.
func (s *File) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || int64(len(p)) > s.size-off {
		return 0, ErrOutOfRange
	}
	return s.f.WriteAt(p, off)
}

// Flush makes written data durable with fdatasync.
func (s *File) Flush() error {
	if s.readOnly {
		return nil
	}
	for {
		err := unix.Fdatasync(int(s.f.Fd()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("fdatasync: %w", err)
		}
		return nil
	}
}

// Unmap punches a hole (the file keeps its size).
func (s *File) Unmap(off, length int64) error {
	if off < 0 || length < 0 || length > s.size-off {
		return ErrOutOfRange
	}
	if length == 0 {
		return nil
	}
	err := unix.Fallocate(int(s.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("punch hole: %w", errUnmapUnsupported(err))
	}
	if err != nil {
		return fmt.Errorf("punch hole: %w", err)
	}
	return nil
}

// Mapped reports whether off lies in data or a hole (SEEK_DATA/SEEK_HOLE)
// and the length of that extent, capped at length.
func (s *File) Mapped(off, length int64) (bool, int64, error) {
	if length <= 0 || off < 0 || off >= s.size {
		return false, 0, ErrOutOfRange
	}
	length = min(length, s.size-off)
	fd := int(s.f.Fd())
	data, err := unix.Seek(fd, off, unix.SEEK_DATA)
	if errors.Is(err, unix.ENXIO) { // only a hole up to EOF
		return false, length, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("seek data: %w", err)
	}
	if data > off {
		return false, min(data-off, length), nil
	}
	hole, err := unix.Seek(fd, off, unix.SEEK_HOLE)
	if err != nil {
		return false, 0, fmt.Errorf("seek hole: %w", err)
	}
	return true, min(hole-off, length), nil
}

// Size returns the store size in bytes.
func (s *File) Size() int64 { return s.size }

// Close closes the file.
func (s *File) Close() error { return s.f.Close() }

// Provisioning reports a thin-provisioned store: punched holes read as
// zeros (and when the file system cannot punch, Unmap reports
// scsi.ErrUnmapUnsupported and the caller writes zeros).
func (s *File) Provisioning() (thin, zeroes bool) { return !s.readOnly, true }
