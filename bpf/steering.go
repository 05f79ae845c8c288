package bpf

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
)

// Sentinel errors; callers test them with errors.Is.
var (
	ErrNoDevice          = errors.New("no such device")
	ErrNotAttached       = errors.New("steering program not attached")
	ErrForeignProgram    = errors.New("another XDP program is attached (use --force to replace it)")
	ErrNativeUnsupported = errors.New("driver lacks native XDP (try --mode generic)")
	ErrNoRule            = errors.New("no such rule")
	ErrBadQueue          = errors.New("queue id out of range")
)

// MaxQueues is the number of receive queues the XSKMAP covers.
const MaxQueues = 64

// Mode is the XDP attach mode.
type Mode int

const (
	ModeAuto    Mode = iota // native, falling back to generic
	ModeNative              // driver mode
	ModeGeneric             // skb mode, works on any device
)

func (m Mode) String() string {
	switch m {
	case ModeNative:
		return "native"
	case ModeGeneric:
		return "generic"
	}
	return "auto"
}

// ParseMode parses "native", "generic" or "auto" (also "drv", "skb").
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return ModeAuto, nil
	case "native", "drv", "driver":
		return ModeNative, nil
	case "generic", "skb":
		return ModeGeneric, nil
	}
	return 0, fmt.Errorf("bad XDP mode %q (native, generic or auto)", s)
}

// Options tune Attach and Open.
type Options struct {
	Mode    Mode
	Force   bool   // replace a foreign XDP program
	PinRoot string // default DefaultPinRoot
	Rules   []Rule // added (idempotently) after attaching
	Logger  *slog.Logger
}

// Steering is a handle on the steering objects of one interface. It holds
// map and program descriptors, not the link: the pinned link alone keeps the
// program attached, so Close never detaches and Detach by anyone does.
type Steering struct {
	ifname   string
	ifindex  int
	root     string
	dir      string
	attached bool
	mode     Mode
	prog     *ebpf.Program
	rules    *ebpf.Map
	verdicts *ebpf.Map
	xsks     *ebpf.Map
	queues   *ebpf.Map
	log      *slog.Logger
}

// Attach loads and attaches the classifier to ifname and pins it, or, when
// it is attached already, opens the existing pins (a no-op: Attached then
// reports false). Rules in opts are added either way.
func Attach(ifname string, opts Options) (*Steering, error) {
	root := opts.PinRoot
	if root == "" {
		root = DefaultPinRoot
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	if err := EnsureBPFFS(root); err != nil {
		return nil, fmt.Errorf("attach %s: %w", ifname, err)
	}
	ifc, err := linkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", ifname, err)
	}
	dir, err := PinDir(root, ifname)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", ifname, err)
	}

	s, err := open(ifc, root, dir, lg)
	switch {
	case err == nil:
		lg.Debug("steering already attached", "dev", ifname, "pins", dir)
		if err := s.addRules(opts.Rules); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	case errors.Is(err, errStale):
		lg.Info("removing stale steering pins", "dev", ifname, "pins", dir, "reason", err)
		if err := removePins(root, dir); err != nil {
			return nil, fmt.Errorf("attach %s: remove stale pins: %w", ifname, err)
		}
	case !errors.Is(err, ErrNotAttached):
		return nil, fmt.Errorf("attach %s: %w", ifname, err)
	}

	if x := ifc.Attrs().Xdp; x != nil && x.Attached {
		if !opts.Force {
			return nil, fmt.Errorf("attach %s: program id %d: %w", ifname, x.ProgId, ErrForeignProgram)
		}
		if err := removeForeign(ifc); err != nil {
			return nil, fmt.Errorf("attach %s: replace program id %d: %w", ifname, x.ProgId, err)
		}
		lg.Info("removed foreign XDP program", "dev", ifname, "prog_id", x.ProgId)
	}

	var objs steerObjects
	if err := loadSteerObjects(&objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("attach %s: verifier rejected the classifier: %s", ifname, verifierExcerpt(ve))
		}
		return nil, fmt.Errorf("attach %s: load classifier: %w", ifname, err)
	}
	lnk, mode, err := attachLink(objs.XtgtSteer, ifc.Attrs().Index, opts.Mode)
	if err != nil {
		objs.Close()
		return nil, fmt.Errorf("attach %s: %w", ifname, err)
	}
	if err := pinAll(dir, &objs, lnk); err != nil {
		lnk.Close()
		objs.Close()
		removePins(root, dir)
		return nil, fmt.Errorf("attach %s: pin: %w", ifname, err)
	}
	// The pin keeps the link; our descriptor is not needed.
	lnk.Close()
	lg.Info("steering attached", "dev", ifname, "mode", mode, "pins", dir)
	s = &Steering{
		ifname: ifname, ifindex: ifc.Attrs().Index, root: root, dir: dir,
		attached: true, mode: mode, prog: objs.XtgtSteer,
		rules: objs.Rules, verdicts: objs.Verdicts, xsks: objs.Xsks, queues: objs.Queues,
		log: lg,
	}
	if err := s.addRules(opts.Rules); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Open opens the steering objects pinned for ifname; ErrNotAttached when
// there are none.
func Open(ifname string, opts Options) (*Steering, error) {
	root := opts.PinRoot
	if root == "" {
		root = DefaultPinRoot
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	ifc, err := linkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ifname, err)
	}
	dir, err := PinDir(root, ifname)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ifname, err)
	}
	s, err := open(ifc, root, dir, lg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ifname, err)
	}
	return s, nil
}

// Detach removes the classifier from ifname and its pins. With no pins but
// our own stale directory it still cleans up; ErrNotAttached when there was
// nothing of ours.
func Detach(ifname string, opts Options) error {
	root := opts.PinRoot
	if root == "" {
		root = DefaultPinRoot
	}
	if _, err := linkByName(ifname); err != nil {
		return fmt.Errorf("detach %s: %w", ifname, err)
	}
	dir, err := PinDir(root, ifname)
	if err != nil {
		return fmt.Errorf("detach %s: %w", ifname, err)
	}
	return detachDir(ifname, root, dir)
}

func detachDir(ifname, root, dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("detach %s: %w", ifname, ErrNotAttached)
	}
	var errs []error
	if lnk, err := link.LoadPinnedLink(filepath.Join(dir, pinLink), nil); err == nil {
		// Force the detach even if someone else holds a descriptor.
		if err := lnk.Detach(); err != nil && !errors.Is(err, syscall.ENOLINK) {
			errs = append(errs, fmt.Errorf("detach link: %w", err))
		}
		lnk.Close()
	} else if !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("load link pin: %w", err))
	}
	if err := removePins(root, dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("detach %s: %w", ifname, err)
	}
	return nil
}

// Detach detaches the classifier this handle refers to, removes its pins
// and closes the handle.
func (s *Steering) Detach() error {
	s.Close()
	return detachDir(s.ifname, s.root, s.dir)
}

// Attached reports whether the Attach that returned s attached the program
// (false: it was attached already). A daemon detaches on exit only then.
func (s *Steering) Attached() bool { return s.attached }

// Ifname returns the interface name.
func (s *Steering) Ifname() string { return s.ifname }

// Ifindex returns the interface index.
func (s *Steering) Ifindex() int { return s.ifindex }

// PinDir returns the directory of the pins.
func (s *Steering) PinDir() string { return s.dir }

// Mode returns the attach mode in force.
func (s *Steering) Mode() Mode { return s.mode }

// Close releases the descriptors; the program stays attached.
func (s *Steering) Close() error {
	var errs []error
	for _, c := range []interface{ Close() error }{s.prog, s.rules, s.verdicts, s.xsks, s.queues} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

var errStale = errors.New("stale pins")

// open loads the pins in dir and checks that their program is the one
// attached to ifc. ErrNotAttached without pins; errStale when they exist but
// do not describe what is attached.
func open(ifc netlink.Link, root, dir string, lg *slog.Logger) (*Steering, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotAttached
	}
	lnk, err := link.LoadPinnedLink(filepath.Join(dir, pinLink), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: link: %w", errStale, err)
	}
	info, err := lnk.Info()
	lnk.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: link info: %w", errStale, err)
	}
	x := info.XDP()
	if x == nil || int(x.Ifindex) != ifc.Attrs().Index {
		return nil, fmt.Errorf("%w: link is not attached to ifindex %d", errStale, ifc.Attrs().Index)
	}
	s := &Steering{ifname: ifc.Attrs().Name, ifindex: ifc.Attrs().Index, root: root, dir: dir, log: lg}
	fail := func(err error) (*Steering, error) {
		s.Close()
		return nil, fmt.Errorf("%w: %w", errStale, err)
	}
	if s.prog, err = ebpf.LoadPinnedProgram(filepath.Join(dir, pinProg), nil); err != nil {
		return fail(err)
	}
	pi, err := s.prog.Info()
	if err != nil {
		return fail(err)
	}
	if id, ok := pi.ID(); !ok || id != info.Program {
		return fail(fmt.Errorf("pinned program id %d is not the link's %d", id, info.Program))
	}
	for _, m := range []struct {
		name string
		dst  **ebpf.Map
	}{{pinRules, &s.rules}, {pinVerdicts, &s.verdicts}, {pinXSKs, &s.xsks}, {pinQueues, &s.queues}} {
		if *m.dst, err = ebpf.LoadPinnedMap(filepath.Join(dir, m.name), nil); err != nil {
			return fail(err)
		}
	}
	s.mode = ModeNative
	if xa := ifc.Attrs().Xdp; xa != nil && xa.AttachMode == 2 /* XDP_ATTACHED_SKB */ {
		s.mode = ModeGeneric
	}
	return s, nil
}

func linkByName(ifname string) (netlink.Link, error) {
	ifc, err := netlink.LinkByName(ifname)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, syscall.ENODEV) {
			return nil, ErrNoDevice
		}
		return nil, fmt.Errorf("look up device: %w", err)
	}
	return ifc, nil
}

func attachLink(prog *ebpf.Program, ifindex int, m Mode) (link.Link, Mode, error) {
	try := func(flags link.XDPAttachFlags) (link.Link, error) {
		return link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: flags})
	}
	switch m {
	case ModeGeneric:
		l, err := try(link.XDPGenericMode)
		if err != nil {
			return nil, 0, fmt.Errorf("attach generic XDP: %w", err)
		}
		return l, ModeGeneric, nil
	case ModeNative:
		l, err := try(link.XDPDriverMode)
		if err != nil {
			if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EINVAL) {
				return nil, 0, fmt.Errorf("attach native XDP: %w: %w", ErrNativeUnsupported, err)
			}
			if errors.Is(err, syscall.ERANGE) {
				return nil, 0, fmt.Errorf("attach native XDP: MTU too large for a classifier without multi-buffer (xdp.frags) support (veth: at most 3506): %w", err)
			}
			return nil, 0, fmt.Errorf("attach native XDP: %w", err)
		}
		return l, ModeNative, nil
	}
	l, err := try(link.XDPDriverMode)
	if err == nil {
		return l, ModeNative, nil
	}
	l, gerr := try(link.XDPGenericMode)
	if gerr != nil {
		return nil, 0, fmt.Errorf("attach XDP: native: %w; generic: %w", err, gerr)
	}
	return l, ModeGeneric, nil
}

// removeForeign detaches whatever XDP program ifc carries through netlink
// (a program attached through a bpf_link cannot be removed so: EBUSY).
func removeForeign(ifc netlink.Link) error {
	var flags int
	switch ifc.Attrs().Xdp.AttachMode {
	case 1:
		flags = 1 << 2 // XDP_FLAGS_DRV_MODE
	case 2:
		flags = 1 << 1 // XDP_FLAGS_SKB_MODE
	case 3:
		flags = 1 << 3 // XDP_FLAGS_HW_MODE
	}
	if err := netlink.LinkSetXdpFdWithFlags(ifc, -1, flags); err != nil {
		if errors.Is(err, syscall.EBUSY) {
			return fmt.Errorf("it is held by a bpf_link of another tool: %w", err)
		}
		return err
	}
	return nil
}

func pinAll(dir string, objs *steerObjects, lnk link.Link) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		pin  func(string) error
	}{
		{pinRules, objs.Rules.Pin}, {pinVerdicts, objs.Verdicts.Pin}, {pinXSKs, objs.Xsks.Pin},
		{pinQueues, objs.Queues.Pin}, {pinProg, objs.XtgtSteer.Pin}, {pinLink, lnk.Pin},
	} {
		if err := p.pin(filepath.Join(dir, p.name)); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return nil
}

// verifierExcerpt keeps the last lines of the verifier log, where the
// reason is.
func verifierExcerpt(ve *ebpf.VerifierError) string {
	const keep = 8
	lines := ve.Log
	if len(lines) > keep {
		lines = lines[len(lines)-keep:]
	}
	return fmt.Sprintf("%v\n\t%s", ve.Cause, strings.Join(lines, "\n\t"))
}
