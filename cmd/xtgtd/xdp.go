package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/xtgt/xtgt/datapath/tcp/xdplisten"
)

// xdpLogger is the daemon's logger, set before portals are opened.
var xdpLogger = slog.New(slog.DiscardHandler)

// parseXDPPortal splits "xdp:IFACE:IP:PORT" (an IPv6 address in brackets: xdp:eth0:[fd00::1]:3260).
func parseXDPPortal(portal string) (iface string, ip netip.Addr, port uint16, err error) {
	rest, ok := strings.CutPrefix(portal, "xdp:")
	if !ok {
		return "", ip, 0, fmt.Errorf("portal %q: want xdp:IFACE:IP:PORT", portal)
	}
	iface, hostport, ok := strings.Cut(rest, ":")
	if !ok || iface == "" {
		return "", ip, 0, fmt.Errorf("portal %q: want xdp:IFACE:IP:PORT", portal)
	}
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", ip, 0, fmt.Errorf("portal %q: %w", portal, err)
	}
	ip, err = netip.ParseAddr(host)
	if err != nil {
		return "", ip, 0, fmt.Errorf("portal %q: address: %w", portal, err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", ip, 0, fmt.Errorf("portal %q: bad port %q", portal, p)
	}
	return iface, ip, uint16(n), nil
}

// listenXDP serves a portal "xdp:IFACE:IP:PORT" through the AF_XDP userspace TCP engine. It attaches the XDP
// classifier (the same pins as xdpctl) if it is not attached; closing the listener detaches only what it
// attached.
func listenXDP(portal string) (net.Listener, error) {
	iface, ip, port, err := parseXDPPortal(portal)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := xdplisten.Listen(ctx, iface, ip, port, xdplisten.Options{Logger: xdpLogger.With("portal", portal)})
	if err != nil {
		return nil, fmt.Errorf("portal %s: %w", portal, err)
	}
	return l, nil
}

// advertisedPortals is what SendTargets reports for the configured portals: an AF_XDP portal is reached at its
// IP:PORT like any other.
func advertisedPortals(portals []string) []string {
	out := make([]string, 0, len(portals))
	for _, p := range portals {
		if iface, ip, port, err := parseXDPPortal(p); err == nil && iface != "" {
			p = net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
		}
		out = append(out, p)
	}
	return out
}
