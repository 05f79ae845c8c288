package backstore

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Block is a block-device store: size from BLKGETSIZE64, flush by
// fdatasync, unmap by BLKDISCARD.
type Block struct {
	File
}

// OpenBlock opens the block device at path.
func OpenBlock(path string, readOnly bool) (*Block, error) {
	flags := os.O_RDWR
	if readOnly {
		flags = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		return nil, fmt.Errorf("open block store: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open block store: %w", err)
	}
	if st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
		f.Close()
		return nil, fmt.Errorf("open block store %s: not a block device", path)
	}
	var size uint64
	if err := ioctlPtr(f, unix.BLKGETSIZE64, unsafe.Pointer(&size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("open block store %s: BLKGETSIZE64: %w", path, err)
	}
	if size == 0 {
		f.Close()
		return nil, fmt.Errorf("open block store %s: device has zero size", path)
	}
	return &Block{File{f: f, size: int64(size), readOnly: readOnly}}, nil
}

// Unmap discards the range with BLKDISCARD.
func (b *Block) Unmap(off, length int64) error {
	if off < 0 || length < 0 || length > b.size-off {
		return ErrOutOfRange
	}
	if length == 0 {
		return nil
	}
	r := [2]uint64{uint64(off), uint64(length)}
	if err := ioctlPtr(b.f, unix.BLKDISCARD, unsafe.Pointer(&r)); err != nil {
		if err == unix.EOPNOTSUPP || err == unix.ENOTTY {
			return fmt.Errorf("BLKDISCARD: %w", errUnmapUnsupported(err))
		}
		return fmt.Errorf("BLKDISCARD: %w", err)
	}
	return nil
}

// Mapped is not meaningful for block devices; every block is mapped.
func (b *Block) Mapped(off, length int64) (bool, int64, error) {
	if length <= 0 || off < 0 || off >= b.size {
		return false, 0, ErrOutOfRange
	}
	return true, min(length, b.size-off), nil
}

func ioctlPtr(f *os.File, req uint, arg unsafe.Pointer) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno error
	if err := rc.Control(func(fd uintptr) {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(arg))
		if e != 0 {
			errno = e
		}
	}); err != nil {
		return err
	}
	return errno
}

// Provisioning reports a device that accepts discards whose discarded
// blocks are not guaranteed to read as zeros.
func (b *Block) Provisioning() (thin, zeroes bool) { return !b.readOnly, false }
