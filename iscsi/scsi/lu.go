package scsi

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/bits"
	"sync"
	"sync/atomic"
)

const defaultMaxTransfer = 8 << 20

// lu is one logical unit.
type lu struct {
	num      uint64
	be       Backend
	bs       uint32
	shift    uint
	nblocks  atomic.Uint64
	readOnly bool
	maxXfer  uint32 // blocks
	vendor   [8]byte
	product  [16]byte
	rev      [4]byte
	serial   string
	naa      []byte // NAA designator bytes (8 or 16)
	naaOUI   uint32

	defWCE bool
	wce    atomic.Bool // caching page WCE
	dsense atomic.Bool // control page D_SENSE

	thin  bool // LBPME: UNMAP deallocates
	lbprz bool // deallocated blocks read as zeros
	rl    rangeLock
	swp   atomic.Bool // control page SWP: software write protect
	pr    prState
	xcopy xcopyState

	removable bool
	lbppbe    uint8        // logical blocks per physical block exponent
	ejected   atomic.Bool  // removable medium is not present
	prevented atomic.Int32 // I_T nexuses with PREVENT set; guarded writes under mu

	sanitizing  atomic.Bool   // a SANITIZE operation is running
	sanProgress atomic.Uint32 // its progress, 0..65535
	sanFailed   atomic.Bool   // the last SANITIZE failed (until EXIT FAILURE MODE)

	mu  sync.RWMutex
	its map[Nexus]*itState // guarded by mu
}

// itState is the per-I_T-nexus state of one logical unit.
type itState struct {
	ua      []ASC // pending unit attentions, oldest first; guarded by lu.mu
	prevent bool  // PREVENT ALLOW MEDIUM REMOVAL PREVENT=1; guarded by lu.mu
}

const maxUAs = 8

func padASCII(dst []byte, s string) {
	for i := range dst {
		if i < len(s) && s[i] >= 0x20 && s[i] < 0x7F {
			dst[i] = s[i]
		} else {
			dst[i] = ' '
		}
	}
}

func newLU(num uint64, cfg LUConfig) (*lu, error) {
	if cfg.Backend == nil {
		return nil, fmt.Errorf("%w: nil backend", ErrBadLUConfig)
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = 512
	}
	if cfg.BlockSize < 512 || cfg.BlockSize > 65536 || bits.OnesCount32(cfg.BlockSize) != 1 {
		return nil, fmt.Errorf("%w: block size %d", ErrBadLUConfig, cfg.BlockSize)
	}
	if cfg.VendorID == "" {
		cfg.VendorID = "XTGT"
	}
	if cfg.ProductID == "" {
		cfg.ProductID = "xtgt-lun"
	}
	if cfg.Revision == "" {
		cfg.Revision = "0001"
	}
	if cfg.Serial == "" {
		cfg.Serial = deriveSerial(num, &cfg)
	}
	if cfg.MaxTransferBytes == 0 {
		cfg.MaxTransferBytes = defaultMaxTransfer
	}
	if cfg.PhysicalBlockExponent > 15 {
		return nil, fmt.Errorf("%w: physical block exponent %d", ErrBadLUConfig, cfg.PhysicalBlockExponent)
	}
	if cfg.MaxTransferBytes < cfg.BlockSize {
		return nil, fmt.Errorf("%w: max transfer %d below block size", ErrBadLUConfig, cfg.MaxTransferBytes)
	}
	l := &lu{
		num:       num,
		be:        cfg.Backend,
		bs:        cfg.BlockSize,
		shift:     uint(bits.TrailingZeros32(cfg.BlockSize)),
		readOnly:  cfg.ReadOnly,
		serial:    cfg.Serial,
		naaOUI:    cfg.NAAOUI & 0xFFFFFF,
		defWCE:    cfg.WriteBack,
		removable: cfg.Removable,
		lbppbe:    cfg.PhysicalBlockExponent,
		its:       map[Nexus]*itState{},
	}
	l.maxXfer = cfg.MaxTransferBytes >> l.shift
	l.rl.init(l.shift)
	l.pr.file = cfg.PRFile
	if err := l.pr.load(); err != nil {
		return nil, err
	}
	if p, ok := cfg.Backend.(Provisioner); ok {
		l.thin, l.lbprz = p.Provisioning()
	}
	l.nblocks.Store(uint64(cfg.Backend.Size()) >> l.shift)
	padASCII(l.vendor[:], cfg.VendorID)
	padASCII(l.product[:], cfg.ProductID)
	padASCII(l.rev[:], cfg.Revision)
	l.wce.Store(cfg.WriteBack)

	h := fnv.New64a()
	h.Write([]byte(cfg.Serial))
	id := h.Sum64()
	if l.naaOUI != 0 {
		// NAA 6: 4-bit NAA, 24-bit OUI, 36-bit vendor specific, 64-bit extension.
		l.naa = make([]byte, 16)
		binary.BigEndian.PutUint64(l.naa[0:8], 6<<60|uint64(l.naaOUI)<<36|(id>>28)&(1<<36-1))
		binary.BigEndian.PutUint64(l.naa[8:16], id^uint64(num))
	} else {
		// NAA 3: locally assigned, 60 bits.
		l.naa = make([]byte, 8)
		binary.BigEndian.PutUint64(l.naa, 3<<60|id&(1<<60-1))
	}
	return l, nil
}

// reset returns the logical unit to its reset state. Mode parameters go
// back to their defaults only on a cold reset (power on).
func (l *lu) reset(cold bool) {
	l.allowAll()
	if cold {
		l.wce.Store(l.defWCE)
		l.dsense.Store(false)
		l.swp.Store(false)
	}
}

// desc reports whether sense data is to be returned in descriptor format.
func (l *lu) desc() bool { return l != nil && l.dsense.Load() }

// pendingUA returns the oldest unit attention for n and removes it. A nexus
// seen for the first time starts with POWER ON, RESET, OR BUS DEVICE RESET
// OCCURRED.
func (l *lu) pendingUA(n Nexus, consume bool) (ASC, bool) {
	l.mu.RLock()
	st := l.its[n]
	has := st != nil && len(st.ua) > 0
	l.mu.RUnlock()
	if st != nil && !has {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st = l.its[n]
	if st == nil {
		st = &itState{ua: make([]ASC, 1, maxUAs)}
		st.ua[0] = ASCPowerOnResetOccurred
		l.its[n] = st
	}
	if len(st.ua) == 0 {
		return 0, false
	}
	a := st.ua[0]
	if consume {
		copy(st.ua, st.ua[1:])
		st.ua = st.ua[:len(st.ua)-1]
	}
	return a, true
}

// touch makes sure n has state (so it gets future unit attentions).
func (l *lu) touch(n Nexus) {
	l.pendingUA(n, false)
}

// establishAll queues unit attention a for every known nexus (except from
// when skipFrom).
func (l *lu) establishAll(a ASC, from Nexus, skipFrom bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for n, st := range l.its {
		if skipFrom && n == from {
			continue
		}
		st.add(a)
	}
}

// clearUA removes pending unit attention a for nexus n.
func (l *lu) clearUA(n Nexus, a ASC) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.its[n]; st != nil {
		st.ua = deleteASC(st.ua, a)
	}
}

func deleteASC(s []ASC, a ASC) []ASC {
	out := s[:0]
	for _, x := range s {
		if x != a {
			out = append(out, x)
		}
	}
	return out
}

func (st *itState) add(a ASC) {
	// A reset-class attention subsumes everything queued before it.
	if a>>8 == 0x29 {
		st.ua = append(st.ua[:0], a)
		return
	}
	for _, x := range st.ua {
		if x == a || x>>8 == 0x29 && a != ASCReportedLUNsDataChanged && a != ASCCapacityDataChanged {
			return
		}
	}
	if len(st.ua) < maxUAs {
		st.ua = append(st.ua, a)
	}
}

func (l *lu) dropNexus(n Nexus) {
	l.mu.Lock()
	if st := l.its[n]; st != nil && st.prevent {
		l.prevented.Add(-1)
	}
	delete(l.its, n)
	l.mu.Unlock()
}

// setPrevent records PREVENT ALLOW MEDIUM REMOVAL for nexus n.
func (l *lu) setPrevent(n Nexus, on bool) {
	l.touch(n)
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.its[n]
	if st == nil || st.prevent == on {
		return
	}
	st.prevent = on
	if on {
		l.prevented.Add(1)
	} else {
		l.prevented.Add(-1)
	}
}

// allowAll clears medium removal prevention for every nexus (resets).
func (l *lu) allowAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, st := range l.its {
		st.prevent = false
	}
	l.prevented.Store(0)
}
