package initiator

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/xtgt/xtgt/iscsi/login"
)

// DefaultInitiatorName is used when Options.InitiatorName is empty.
const DefaultInitiatorName = "iqn.2026-11.dev.xtgt:initiator"

// DefaultPort is the iSCSI well-known port.
const DefaultPort = 3260

// Options configure a session.
type Options struct {
	// Address is "host:port" (the port defaults to 3260). Unused by DialConn.
	Address string
	// TargetName is the target's IQN; required except for discovery.
	TargetName    string
	InitiatorName string // DefaultInitiatorName when empty
	// ISID is the initiator session ID (48 bits); a random one (type 10b, §11.12.5) when zero. Two sessions with
	// the same InitiatorName and ISID reinstate each other.
	ISID uint64
	// CHAP, when set, authenticates the initiator; MutualCHAP also requires the target to authenticate with this
	// name and secret.
	CHAP, MutualCHAP *login.CHAPSecret
	// HeaderDigest and DataDigest offer CRC32C (the target may still choose None; see Session.Params).
	HeaderDigest, DataDigest bool
	// MaxRecvDataSegmentLength is what this side can receive in one PDU (default 256 KiB).
	MaxRecvDataSegmentLength uint32
	// MaxBurstLength and FirstBurstLength are proposed (defaults 16 MiB and 256 KiB).
	MaxBurstLength, FirstBurstLength uint32
	// NoImmediateData proposes ImmediateData=No; InitialR2T proposes InitialR2T=Yes. The zero values propose
	// the fast settings (ImmediateData=Yes, InitialR2T=No).
	NoImmediateData bool
	InitialR2T      bool
	// MaxTasks bounds the commands outstanding at once (default 1024).
	MaxTasks int
	// Dialer dials Address (a net.Dialer when nil).
	Dialer interface {
		DialContext(ctx context.Context, network, address string) (net.Conn, error)
	}
	Logger *slog.Logger
}

func (o *Options) withDefaults() (Options, error) {
	c := *o
	if c.InitiatorName == "" {
		c.InitiatorName = DefaultInitiatorName
	}
	if c.ISID == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return c, fmt.Errorf("initiator: random ISID: %w", err)
		}
		// Type 10b (random): T=2 in the top two bits, then 22 + 16 + 8 random bits.
		c.ISID = 0x800000000000 | binary.BigEndian.Uint64(b[:])&0x3fffffffffff
	}
	if c.MaxRecvDataSegmentLength == 0 {
		c.MaxRecvDataSegmentLength = 256 << 10
	}
	if c.MaxBurstLength == 0 {
		c.MaxBurstLength = 16 << 20
	}
	if c.FirstBurstLength == 0 {
		c.FirstBurstLength = 256 << 10
	}
	if c.FirstBurstLength > c.MaxBurstLength {
		c.FirstBurstLength = c.MaxBurstLength
	}
	if c.MaxTasks <= 0 {
		c.MaxTasks = 1024
	}
	if c.MaxTasks > maxTasks {
		c.MaxTasks = maxTasks
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func (o *Options) want() login.Params {
	p := login.DefaultParams()
	p.HeaderDigest, p.DataDigest = o.HeaderDigest, o.DataDigest
	p.MaxRecvDataSegmentLength = o.MaxRecvDataSegmentLength
	p.MaxBurstLength, p.FirstBurstLength = o.MaxBurstLength, o.FirstBurstLength
	p.ImmediateData = !o.NoImmediateData
	p.InitialR2T = o.InitialR2T
	p.MaxOutstandingR2T = 8
	return p
}

// URL is a parsed iSCSI URL.
type URL struct {
	Address    string // host:port
	TargetName string
	LUN        uint64
	CHAP       *login.CHAPSecret // user%password
	MutualCHAP *login.CHAPSecret // ?target_user=...&target_password=...
}

// ErrBadURL reports a malformed iSCSI URL.
var ErrBadURL = errors.New("initiator: bad iSCSI URL")

// ParseURL parses libiscsi's URL form iscsi://[user[%password]@]host[:port]/target-iqn/lun, with optional
// query parameters target_user and target_password for mutual CHAP. The LUN defaults to 0 when omitted.
func ParseURL(s string) (URL, error) {
	var u URL
	rest, ok := strings.CutPrefix(s, "iscsi://")
	if !ok {
		return u, fmt.Errorf("%w: %q does not start with iscsi://", ErrBadURL, s)
	}
	rest, query, _ := strings.Cut(rest, "?")
	if at := strings.LastIndexByte(rest[:max(0, strings.IndexByte(rest+"/", '/'))], '@'); at >= 0 {
		cred := rest[:at]
		rest = rest[at+1:]
		user, pass, hasPass := strings.Cut(cred, "%")
		if user == "" || !hasPass {
			return u, fmt.Errorf("%w: credentials must be user%%password", ErrBadURL)
		}
		u.CHAP = &login.CHAPSecret{User: user, Secret: pass}
	}
	hostport, path, _ := strings.Cut(rest, "/")
	if hostport == "" {
		return u, fmt.Errorf("%w: no host", ErrBadURL)
	}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		host := strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
		hostport = net.JoinHostPort(host, strconv.Itoa(DefaultPort))
	}
	u.Address = hostport
	iqn, lun, hasLUN := strings.Cut(path, "/")
	if iqn == "" {
		return u, fmt.Errorf("%w: no target name", ErrBadURL)
	}
	u.TargetName = iqn
	if hasLUN && lun != "" {
		n, err := strconv.ParseUint(lun, 10, 64)
		if err != nil {
			return u, fmt.Errorf("%w: LUN %q", ErrBadURL, lun)
		}
		u.LUN = n
	}
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return u, fmt.Errorf("%w: %w", ErrBadURL, err)
		}
		if tu := q.Get("target_user"); tu != "" {
			u.MutualCHAP = &login.CHAPSecret{User: tu, Secret: q.Get("target_password")}
		}
	}
	return u, nil
}

// Options returns session options for u.
func (u URL) Options() Options {
	return Options{Address: u.Address, TargetName: u.TargetName, CHAP: u.CHAP, MutualCHAP: u.MutualCHAP}
}
