package main

import (
	"slices"
	"testing"
)

func TestParseXDPPortal(t *testing.T) {
	for _, tc := range []struct {
		in, iface, ip string
		port          uint16
		bad           bool
	}{
		{"xdp:eth0:10.0.0.1:3260", "eth0", "10.0.0.1", 3260, false},
		{"xdp:veth1:[fd00::1]:3261", "veth1", "fd00::1", 3261, false},
		{"xdp::10.0.0.1:3260", "", "", 0, true},
		{"xdp:eth0:10.0.0.1", "", "", 0, true},
		{"xdp:eth0:10.0.0.1:0", "", "", 0, true},
		{"xdp:eth0:notanip:3260", "", "", 0, true},
		{"10.0.0.1:3260", "", "", 0, true},
	} {
		iface, ip, port, err := parseXDPPortal(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || iface != tc.iface || ip.String() != tc.ip || port != tc.port {
			t.Errorf("%q: %q %v %d %v", tc.in, iface, ip, port, err)
		}
	}
	got := advertisedPortals([]string{"127.0.0.1:3260", "xdp:veth1:[fd00::1]:3261"})
	if want := []string{"127.0.0.1:3260", "[fd00::1]:3261"}; !slices.Equal(got, want) {
		t.Errorf("advertisedPortals = %v, want %v", got, want)
	}
}
