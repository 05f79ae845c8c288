//go:build linux

package vethbed

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Legacy ethtool set commands (linux/ethtool.h).
const (
	ethtoolSTXCSUM = 0x17
	ethtoolSSG     = 0x19
	ethtoolSTSO    = 0x1f
	ethtoolSGSO    = 0x24
	ethtoolSGRO    = 0x2c
)

type ethtoolValue struct{ cmd, data uint32 }

type ifreqPtr struct {
	name [unix.IFNAMSIZ]byte
	data uintptr
	_    [16]byte
}

// SetOffloads turns TX checksum, scatter-gather, TSO, GSO and GRO on or off for ifname (in the
// calling thread's namespace). Off makes the kernel hand AF_PACKET/AF_XDP readers complete,
// MTU-sized frames with computed checksums.
func SetOffloads(ifname string, on bool) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("ethtool socket: %w", err)
	}
	defer unix.Close(fd)
	v := uint32(0)
	if on {
		v = 1
	}
	for _, cmd := range []uint32{ethtoolSGRO, ethtoolSGSO, ethtoolSTSO, ethtoolSSG, ethtoolSTXCSUM} {
		ev := &ethtoolValue{cmd: cmd, data: v}
		ifr := &ifreqPtr{data: uintptr(unsafe.Pointer(ev))}
		copy(ifr.name[:], ifname)
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(ifr)))
		runtime.KeepAlive(ev)
		if errno != 0 && errno != unix.EOPNOTSUPP {
			return fmt.Errorf("ethtool %s cmd %#x: %w", ifname, cmd, errno)
		}
	}
	return nil
}
