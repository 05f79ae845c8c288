// Package netnstest builds throw-away network test beds for privileged
// tests: named network namespaces (visible as /run/netns/NAME, so
// `nsenter --net=/run/netns/NAME` reaches them) joined by veth pairs with
// addresses, and a way to run Go code inside a namespace.
//
// Names are unique per test run ("xt" + pid + counter), so parallel test
// binaries never collide. Everything is removed by t.Cleanup, also when the
// test fails. Addresses must be in 10.0.0.0/8 or 198.18.0.0/15.
//
// Typical use:
//
//	netnstest.RequireRoot(t)
//	p := netnstest.NewPair(t, netnstest.PairConfig{})
//	p.A.Do(t, func() { /* listen on p.AddrA */ })
package netnstest
