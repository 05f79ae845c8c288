package xsk

import (
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BindMode selects copy or zero-copy operation.
type BindMode int

const (
	BindAuto     BindMode = iota // zero-copy, falling back to copy
	BindCopy                     // XDP_COPY
	BindZeroCopy                 // XDP_ZEROCOPY, failing if the driver lacks it
)

// Config sizes a socket. Zero values take the defaults.
type Config struct {
	Ifindex   int
	Queue     int
	NumFrames int // UMEM frames, default 4096; half feed RX, half TX
	FrameSize int // 2048 (default) or 4096
	RingSize  int // entries of each of the four rings, power of two, default 2048
	Bind      BindMode
	// NoNeedWakeup disables XDP_USE_NEED_WAKEUP; by default it is asked
	// for and dropped only if the kernel refuses it.
	NoNeedWakeup bool
	// TxChecksum asks for TX checksum offload through AF_XDP TX metadata
	// (default off). Socket.TxChecksumOffload reports whether it is in
	// effect.
	TxChecksum TxChecksum
	// MultiBuffer asks for multi-buffer packets (bind flag XDP_USE_SG):
	// packets longer than a frame are received as, and may be sent as,
	// several frames (Frame.More). If the kernel or driver refuses it,
	// the socket is opened without it: Socket.MultiBuffer reports which.
	MultiBuffer bool
}

// TxChecksum selects TX checksum offload through AF_XDP TX metadata
// (Linux Documentation/networking/xsk-tx-metadata.rst).
type TxChecksum int

const (
	// TxChecksumOff sends frames exactly as built.
	TxChecksumOff TxChecksum = iota
	// TxChecksumOffload reserves TxMetadataLen bytes of TX metadata
	// before every TX frame's data (XDP_UMEM_TX_METADATA_LEN) so that
	// Frame.CsumStart/CsumOffset requests reach the kernel: in copy mode
	// the kernel sends the frame as a CHECKSUM_PARTIAL skb (the device or
	// the stack completes the checksum); in zero-copy mode the driver's
	// xsk_tx_metadata_ops do, and the offload is reported only when the
	// device advertises it (netdev xsk-features tx-checksum). A kernel
	// that refuses the metadata (before XDP_UMEM_TX_METADATA_LEN) leaves
	// the offload off.
	TxChecksumOffload
	// TxChecksumSoftware is TxChecksumOffload with XDP_UMEM_TX_SW_CSUM:
	// in copy mode the kernel computes the checksum itself before the
	// frame leaves (slower; for testing and for devices whose offload is
	// suspect). Zero-copy drivers ignore the flag. Not with multi-buffer
	// in copy mode, where the kernel would sum a packet's first frame
	// only: the socket then reports no offload (TxChecksumOffload false,
	// TxMetadata true).
	TxChecksumSoftware
)

// TxMetadataLen is the TX metadata area reserved before each TX frame's
// data when checksum offload is on: the size of struct xsk_tx_metadata
// (u64 flags; request: u16 csum_start, u16 csum_offset, u64 launch_time,
// 8-aligned: 24 bytes; 16 on kernels from before launch_time, which read
// no further), a multiple of 8 as the kernel requires.
const TxMetadataLen = 24

// Sentinel errors.
var (
	ErrClosed      = errors.New("xsk: socket closed")
	ErrNoZeroCopy  = errors.New("xsk: driver lacks zero-copy AF_XDP")
	ErrBadConfig   = errors.New("xsk: bad configuration")
	ErrLinkDown    = errors.New("xsk: device down")
	ErrUnsupported = errors.New("xsk: AF_XDP not supported")
	// ErrBadFrame: Transmit was given a frame the kernel would reject
	// (outside UMEM, empty, crossing its chunk, no room for the TX
	// metadata before it, or a checksum request past its end), or a
	// packet it would drop (Frame.More without multi-buffer, more frames
	// than MaxTxFrags, a last frame with More, a checksum request on a
	// continuation frame). The packets before it are queued; its packet
	// and the rest stay the caller's.
	ErrBadFrame = errors.New("xsk: frame not transmittable")
	// ErrNoChecksumOffload: Transmit was given a checksum request
	// (Frame.CsumOffset != 0) on a socket without TX checksum offload.
	ErrNoChecksumOffload = errors.New("xsk: no TX checksum offload")
)

// Frame is one UMEM frame. Data is a view into UMEM: for a received frame,
// the whole Ethernet frame; from GetTxFrame, the writable frame, to be
// resliced to the length to send. Addr identifies the frame to the kernel
// (it is the UMEM offset of Data[0]).
//
// A packet is one frame, or with multi-buffer (Config.MultiBuffer) several
// consecutive frames: every frame but its last has More set.
//
// Keep, CsumStart and CsumOffset are read by Transmit only.
type Frame struct {
	Addr uint64
	Data []byte
	// More: the packet continues in the next frame (descriptor option
	// XDP_PKT_CONTD). Receive sets it; for Transmit it means the next
	// frame of the same slice, and needs a multi-buffer socket.
	More bool
	// Keep retains the frame after it is sent: its completion does not
	// return it to the TX pool, the caller still owns it (to send it
	// again, or to give it back with PutTxFrame). While InFlight, the
	// kernel may still read it: do not modify it.
	Keep bool
	// CsumStart and CsumOffset request TX checksum offload (CsumOffset 0:
	// none; only on a socket where TxChecksumOffload is true): the
	// checksum is computed over Data[CsumStart:] and stored, as 16 bits,
	// at Data[CsumStart+CsumOffset:]. For a multi-frame packet the
	// request goes on its first frame only (the kernel reads the TX
	// metadata of the first descriptor), the checksum field must lie in
	// that frame, and the checksum covers the rest of the packet, all
	// its frames. As with a NIC's CHECKSUM_PARTIAL,
	// that field must hold the folded, non-inverted pseudo-header sum
	// (for TCP/UDP over IPv4: addresses, protocol and L4 length), and
	// Data itself is never modified, so a kept frame can be sent again
	// unchanged.
	CsumStart, CsumOffset uint16
}

// Registry is where a socket registers itself for its queue (*bpf.Steering
// implements it with the pinned XSKMAP).
type Registry interface {
	RegisterXSK(queue, fd int) error
}

// Socket is an AF_XDP socket with its own UMEM. It is not safe for
// concurrent use: one goroutine drives it (per queue).
type Socket struct {
	fd         int
	queue      int
	umem       []byte
	frameSize  uint32
	frameMask  uint64
	frameShift uint
	metaLen    uint32 // TX metadata bytes before each TX frame's data (0 or TxMetadataLen)
	txCsum     bool   // checksum requests are honoured
	fill, comp addrRing
	rx, tx     descRing
	maps       [][]byte
	free       []uint64 // TX-ready frames (stack of chunk bases)
	state      []uint32 // per UMEM frame: fsCount in-flight descs | fsKept | fsFree
	txFrames   int      // size of the TX pool (the TX half of UMEM)
	kept       int      // frames with fsKept
	txPending  int      // submitted, not yet completed
	zeroCopy   bool
	needWakeup bool
	multiBuf   bool // bound with XDP_USE_SG
	maxTxFrags int  // frames per transmitted packet (1 without multi-buffer)
	pollfd     [1]unix.PollFd
	st         Stats
}

// Per-frame state bits (Socket.state, indexed by UMEM offset >> frameShift).
const (
	fsCount = 1<<30 - 1 // TX descriptors queued and not yet completed
	fsKept  = 1 << 30   // the caller retains the frame (sent with Keep)
	fsFree  = 1 << 31   // on the TX free list
)

const defaultFrames, defaultFrameSize, defaultRing = 4096, 2048, 2048

// copyMaxTxFrags is the most frames a multi-buffer packet may have in copy
// mode. The kernel builds one skb per packet: the first descriptor's data
// in its linear part and each further descriptor in a page fragment, and
// drops a packet that would need more than MAX_SKB_FRAGS fragments.
// MAX_SKB_FRAGS is a build option, 17 by default and never less, not
// visible from user space (net.core.max_skb_frags, only in the initial
// network namespace, is a GSO limit an administrator may lower). With the
// linear part that is MAX_SKB_FRAGS+1 = 18 frames (verified on Linux 6.18
// with veth: 18 frames arrive as one packet; a 19-frame packet is dropped
// whole, its descriptors counted invalid and completed; earlier
// multi-buffer kernels, as their source reads, dropped it without
// completing the descriptors, losing the frames). Devices with
// IFF_TX_SKB_NO_LINEAR (virtio-net) put every descriptor in a fragment,
// which leaves MAX_SKB_FRAGS = 17: the limit used for every device, as
// user space cannot see that flag. A UMEM frame (2 or 4 KiB, aligned)
// never spans two pages, so a descriptor takes one fragment.
const copyMaxTxFrags = 17

// openSocket opens one socket with the given bind flags; a variable so that
// tests can exercise Open's fallbacks.
var openSocket = open

// Open creates the socket, its UMEM and rings, fills the fill ring and binds
// to (Ifindex, Queue) in the calling thread's network namespace.
func Open(cfg Config) (*Socket, error) {
	if cfg.NumFrames == 0 {
		cfg.NumFrames = defaultFrames
	}
	if cfg.FrameSize == 0 {
		cfg.FrameSize = defaultFrameSize
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = defaultRing
	}
	switch {
	case cfg.FrameSize != 2048 && cfg.FrameSize != 4096:
		return nil, fmt.Errorf("%w: frame size %d (2048 or 4096)", ErrBadConfig, cfg.FrameSize)
	case cfg.RingSize&(cfg.RingSize-1) != 0 || cfg.RingSize < 64:
		return nil, fmt.Errorf("%w: ring size %d (power of two, >= 64)", ErrBadConfig, cfg.RingSize)
	case cfg.NumFrames < 2 || cfg.NumFrames/2 > cfg.RingSize:
		return nil, fmt.Errorf("%w: %d frames for rings of %d (RX half must fit the fill ring)", ErrBadConfig, cfg.NumFrames, cfg.RingSize)
	case cfg.Ifindex <= 0 || cfg.Queue < 0:
		return nil, fmt.Errorf("%w: ifindex %d queue %d", ErrBadConfig, cfg.Ifindex, cfg.Queue)
	case cfg.TxChecksum < TxChecksumOff || cfg.TxChecksum > TxChecksumSoftware:
		return nil, fmt.Errorf("%w: TX checksum mode %d", ErrBadConfig, cfg.TxChecksum)
	}
	var tries []uint16
	switch cfg.Bind {
	case BindCopy:
		tries = []uint16{unix.XDP_COPY}
	case BindZeroCopy:
		tries = []uint16{unix.XDP_ZEROCOPY}
	default:
		tries = []uint16{unix.XDP_ZEROCOPY, unix.XDP_COPY}
	}
	// With MultiBuffer, every binding is tried with XDP_USE_SG before any
	// without it: a caller that asks for multi-buffer has packets longer
	// than a frame, which a socket without it can neither receive nor
	// send, so copy mode with it is preferred to zero-copy without.
	sgs := []bool{false}
	if cfg.MultiBuffer {
		sgs = []bool{true, false}
	}
	wake := []bool{!cfg.NoNeedWakeup}
	if !cfg.NoNeedWakeup {
		wake = append(wake, false)
	}
	var errs []error
	for _, sg := range sgs {
		for _, flags := range tries {
			for _, w := range wake {
				s, err := openSocket(cfg, flags, w, sg)
				if err == nil {
					return s, nil
				}
				errs = append(errs, err)
				if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPROTONOSUPPORT) {
					return nil, err
				}
			}
		}
	}
	if cfg.Bind == BindZeroCopy {
		return nil, fmt.Errorf("%w: %w", ErrNoZeroCopy, errors.Join(errs...))
	}
	return nil, errors.Join(errs...)
}

func open(cfg Config, bindFlags uint16, needWakeup, sg bool) (_ *Socket, err error) {
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EAFNOSUPPORT) {
			return nil, fmt.Errorf("%w: socket: %w", ErrUnsupported, err)
		}
		return nil, fmt.Errorf("xsk: socket: %w", err)
	}
	s := &Socket{fd: fd, queue: cfg.Queue, frameSize: uint32(cfg.FrameSize), frameMask: uint64(cfg.FrameSize - 1),
		frameShift: uint(bits.TrailingZeros(uint(cfg.FrameSize)))}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.umem, err = unix.Mmap(-1, 0, cfg.NumFrames*cfg.FrameSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("xsk: map UMEM: %w", err)
	}
	reg := unix.XDPUmemReg{
		Addr: uint64(uintptr(unsafe.Pointer(&s.umem[0]))),
		Len:  uint64(len(s.umem)),
		Size: uint32(cfg.FrameSize),
	}
	if cfg.TxChecksum != TxChecksumOff {
		md := reg
		md.Flags = unix.XDP_UMEM_TX_METADATA_LEN
		md.Tx_metadata_len = TxMetadataLen
		if cfg.TxChecksum == TxChecksumSoftware {
			md.Flags |= unix.XDP_UMEM_TX_SW_CSUM
		}
		switch err := setsockopt(fd, unix.XDP_UMEM_REG, unsafe.Pointer(&md), unsafe.Sizeof(md)); {
		case err == nil:
			s.metaLen = TxMetadataLen
		case errors.Is(err, unix.EINVAL):
			// A kernel without TX metadata (or without the flag that
			// turns it on): register without, offload off.
		default:
			return nil, fmt.Errorf("xsk: register UMEM with TX metadata: %w", err)
		}
	}
	if s.metaLen == 0 {
		if err := setsockopt(fd, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
			return nil, fmt.Errorf("xsk: register UMEM: %w", err)
		}
	}
	for _, o := range []int{unix.XDP_UMEM_FILL_RING, unix.XDP_UMEM_COMPLETION_RING, unix.XDP_RX_RING, unix.XDP_TX_RING} {
		if err := unix.SetsockoptInt(fd, unix.SOL_XDP, o, cfg.RingSize); err != nil {
			return nil, fmt.Errorf("xsk: ring size option %d: %w", o, err)
		}
	}
	var off unix.XDPMmapOffsets
	offLen := uint32(unsafe.Sizeof(off))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_MMAP_OFFSETS,
		uintptr(unsafe.Pointer(&off)), uintptr(unsafe.Pointer(&offLen)), 0); e != 0 {
		return nil, fmt.Errorf("xsk: ring offsets: %w", e)
	}
	n := uint32(cfg.RingSize)
	if s.fill, err = s.mapAddrRing(off.Fr, unix.XDP_UMEM_PGOFF_FILL_RING, n); err != nil {
		return nil, err
	}
	if s.comp, err = s.mapAddrRing(off.Cr, unix.XDP_UMEM_PGOFF_COMPLETION_RING, n); err != nil {
		return nil, err
	}
	if s.rx, err = s.mapDescRing(off.Rx, unix.XDP_PGOFF_RX_RING, n); err != nil {
		return nil, err
	}
	if s.tx, err = s.mapDescRing(off.Tx, unix.XDP_PGOFF_TX_RING, n); err != nil {
		return nil, err
	}

	// First half of UMEM feeds RX, second half is for TX.
	rxFrames := cfg.NumFrames / 2
	prod := s.fill.prodVal()
	for i := range rxFrames {
		s.fill.descs[(prod+uint32(i))&s.fill.mask] = uint64(i) * uint64(cfg.FrameSize)
	}
	atomic.StoreUint32(s.fill.prod, prod+uint32(rxFrames))
	s.free = make([]uint64, 0, cfg.NumFrames)
	s.state = make([]uint32, cfg.NumFrames)
	for i := cfg.NumFrames - 1; i >= rxFrames; i-- {
		s.free = append(s.free, uint64(i)*uint64(cfg.FrameSize))
		s.state[i] = fsFree
	}
	s.txFrames = cfg.NumFrames - rxFrames

	flags := bindFlags
	if needWakeup {
		flags |= unix.XDP_USE_NEED_WAKEUP
	}
	if sg {
		flags |= unix.XDP_USE_SG
	}
	sa := unix.SockaddrXDP{Flags: flags, Ifindex: uint32(cfg.Ifindex), QueueID: uint32(cfg.Queue)}
	err = unix.Bind(fd, &sa)
	// A socket closed just before on this queue releases it from deferred
	// kernel work: EBUSY for a short while. Retry, bounded.
	for i := 0; i < 50 && errors.Is(err, unix.EBUSY); i++ {
		time.Sleep(10 * time.Millisecond)
		err = unix.Bind(fd, &sa)
	}
	if err != nil {
		return nil, fmt.Errorf("xsk: bind ifindex %d queue %d flags %#x: %w", cfg.Ifindex, cfg.Queue, flags, err)
	}
	s.needWakeup = needWakeup
	var opts uint32
	optLen := uint32(unsafe.Sizeof(opts))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_OPTIONS,
		uintptr(unsafe.Pointer(&opts)), uintptr(unsafe.Pointer(&optLen)), 0); e == 0 {
		s.zeroCopy = opts&unix.XDP_OPTIONS_ZEROCOPY != 0
	}
	// Zero-copy: the driver advertises what it does in netdev netlink.
	var feat devFeatures
	var featErr error
	if s.zeroCopy && (s.metaLen > 0 || sg) {
		feat, featErr = netdevGet(cfg.Ifindex)
	}
	// Copy mode: the kernel builds a CHECKSUM_PARTIAL skb from the
	// metadata itself. Zero-copy: the driver must implement the request,
	// which it advertises in netdev xsk-features; a driver without it
	// would silently send the partial sum.
	s.txCsum = s.metaLen > 0
	if s.txCsum && s.zeroCopy {
		s.txCsum = featErr == nil && feat.xsk&netdevXSKTxChecksum != 0
	}
	// Copy mode with XDP_UMEM_TX_SW_CSUM computes the checksum when it
	// meets the first descriptor, before the packet's other frames are
	// attached: a multi-frame packet leaves with a checksum over its
	// first frame only (verified on Linux 6.18). Not offered then.
	if s.txCsum && sg && !s.zeroCopy && cfg.TxChecksum == TxChecksumSoftware {
		s.txCsum = false
	}
	s.multiBuf = sg
	s.maxTxFrags = 1
	switch {
	case !sg:
	case !s.zeroCopy:
		s.maxTxFrags = copyMaxTxFrags
	case featErr == nil && feat.zcMaxSegs > 1:
		// The driver's limit (netdev xdp-zc-max-segs). Unknown: one
		// frame per packet, as the driver would drop longer ones.
		s.maxTxFrags = int(feat.zcMaxSegs)
	}
	s.maxTxFrags = min(s.maxTxFrags, cfg.RingSize)
	s.pollfd[0].Fd = int32(fd)
	return s, nil
}

func setsockopt(fd, opt int, p unsafe.Pointer, n uintptr) error {
	if _, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(p), n, 0); e != 0 {
		return e
	}
	return nil
}

func (s *Socket) mmapRing(off unix.XDPRingOffset, pgoff int64, descSize, n uint32) ([]byte, error) {
	b, err := unix.Mmap(s.fd, pgoff, int(off.Desc)+int(n*descSize), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("xsk: map ring at %#x: %w", pgoff, err)
	}
	s.maps = append(s.maps, b)
	return b, nil
}

func (s *Socket) mapAddrRing(off unix.XDPRingOffset, pgoff int64, n uint32) (addrRing, error) {
	b, err := s.mmapRing(off, pgoff, 8, n)
	if err != nil {
		return addrRing{}, err
	}
	return addrRing{
		ringPtrs: ptrs(b, off, n),
		descs:    unsafe.Slice((*uint64)(unsafe.Pointer(&b[off.Desc])), n),
	}, nil
}

func (s *Socket) mapDescRing(off unix.XDPRingOffset, pgoff int64, n uint32) (descRing, error) {
	b, err := s.mmapRing(off, pgoff, uint32(unsafe.Sizeof(unix.XDPDesc{})), n)
	if err != nil {
		return descRing{}, err
	}
	return descRing{
		ringPtrs: ptrs(b, off, n),
		descs:    unsafe.Slice((*unix.XDPDesc)(unsafe.Pointer(&b[off.Desc])), n),
	}, nil
}

// Close unregisters nothing (the kernel drops a closed socket from every
// XSKMAP) and frees the rings and UMEM. Frames handed out become invalid.
func (s *Socket) Close() error {
	var errs []error
	for _, m := range s.maps {
		if err := unix.Munmap(m); err != nil {
			errs = append(errs, err)
		}
	}
	s.maps = nil
	s.fill, s.comp, s.rx, s.tx = addrRing{}, addrRing{}, descRing{}, descRing{}
	if s.fd >= 0 {
		if err := unix.Close(s.fd); err != nil {
			errs = append(errs, err)
		}
		s.fd = -1
	}
	if s.umem != nil {
		if err := unix.Munmap(s.umem); err != nil {
			errs = append(errs, err)
		}
		s.umem = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("xsk: close: %w", err)
	}
	return nil
}

// Register puts the socket into r for its queue.
func (s *Socket) Register(r Registry) error {
	if s.fd < 0 {
		return ErrClosed
	}
	return r.RegisterXSK(s.queue, s.fd)
}

// Fd returns the socket descriptor (for poll/epoll and XSKMAP registration).
func (s *Socket) Fd() int { return s.fd }

// Queue returns the bound queue id.
func (s *Socket) Queue() int { return s.queue }

// ZeroCopy reports whether the kernel bound in zero-copy mode.
func (s *Socket) ZeroCopy() bool { return s.zeroCopy }

// NeedWakeup reports whether the need_wakeup protocol is in use.
func (s *Socket) NeedWakeup() bool { return s.needWakeup }

// MultiBuffer reports whether the socket is bound with XDP_USE_SG
// (Config.MultiBuffer, accepted by the kernel and driver): received
// packets longer than a frame arrive as several frames (Frame.More), and
// Transmit sends packets of up to MaxTxFrags frames.
func (s *Socket) MultiBuffer() bool { return s.multiBuf }

// MaxTxFrags returns the most frames a transmitted packet may have: 1
// without multi-buffer; in copy mode 17 (MAX_SKB_FRAGS, see
// copyMaxTxFrags); in zero-copy mode the driver's netdev xdp-zc-max-segs.
func (s *Socket) MaxTxFrags() int { return s.maxTxFrags }

// FrameSize returns the UMEM frame size. A TX frame from GetTxFrame has
// FrameSize - TxMetadataLen bytes when TX metadata is on.
func (s *Socket) FrameSize() int { return int(s.frameSize) }

// TxFrames returns the size of the TX pool (the TX half of UMEM): a bound
// for how many frames a caller may retain with Frame.Keep and still find
// frames to send new data in.
func (s *Socket) TxFrames() int { return s.txFrames }

// TxChecksumOffload reports whether Transmit honours checksum requests
// (Frame.CsumOffset): Config.TxChecksum asked for it, the kernel accepted
// the TX metadata and, in zero-copy mode, the driver advertises it (and
// not TxChecksumSoftware on a multi-buffer copy-mode socket).
func (s *Socket) TxChecksumOffload() bool { return s.txCsum }

// TxMetadata reports whether TxMetadataLen bytes of TX metadata precede
// each TX frame's data (then GetTxFrame's frames start that far into
// their UMEM chunk).
func (s *Socket) TxMetadata() bool { return s.metaLen > 0 }
