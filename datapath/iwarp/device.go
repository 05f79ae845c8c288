package iwarp

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/xtgt/xtgt/datapath/verbs"
)

// Device is a software iWARP RNIC.
type Device struct {
	cfg    Config
	mrMu   sync.Mutex
	mrs    atomic.Pointer[[]*MR]
	keySeq uint32
}

var _ verbs.Device = (*Device)(nil)

// NewDevice returns a device with the given MPA options.
func NewDevice(cfg Config) *Device {
	cfg.fill()
	return &Device{cfg: cfg}
}

func (d *Device) Name() string { return "xtgt-siw" }

func (d *Device) AllocPD() (verbs.PD, error) { return &PD{dev: d}, nil }

func (d *Device) CreateCompChannel() (verbs.CompChannel, error) {
	return &CompChannel{events: make(chan *CQ, 64), done: make(chan struct{})}, nil
}

func (d *Device) CreateCQ(depth int, ch verbs.CompChannel) (verbs.CQ, error) {
	var c *CompChannel
	if ch != nil {
		var ok bool
		if c, ok = ch.(*CompChannel); !ok {
			return nil, fmt.Errorf("create cq: channel of another provider: %w", verbs.ErrInvalidState)
		}
	}
	return newCQ(depth, c), nil
}

func (d *Device) Close() error { return nil }

// PD is a protection domain.
type PD struct {
	dev *Device
}

func (p *PD) RegMR(buf []byte, access verbs.Access, va uint64) (verbs.MR, error) {
	if len(buf) == 0 {
		return nil, fmt.Errorf("register: empty buffer: %w", verbs.ErrInvalidSGE)
	}
	m := &MR{pd: p, buf: buf, access: access, base: va}
	if access&verbs.AccessZeroBased != 0 {
		m.base = 0
	}
	if err := p.dev.addMR(m); err != nil {
		return nil, err
	}
	return m, nil
}

func (p *PD) CreateQP(attr verbs.QPAttr) (verbs.QP, error) { return newQP(p, attr) }

func (p *PD) Close() error { return nil }

// Connect implements verbs.Device.
func (d *Device) Connect(ctx context.Context, qp verbs.QP, addr string, p verbs.ConnParam) (verbs.ConnParam, error) {
	q, ok := qp.(*QP)
	if !ok || q.pd.dev != d {
		return verbs.ConnParam{}, fmt.Errorf("connect: QP of another device: %w", verbs.ErrInvalidState)
	}
	return d.connect(ctx, q, addr, p)
}
