package auth

import (
	"context"
	"testing"
)

// FuzzSCRAMServer feeds arbitrary client messages to a SCRAM exchange: it
// must never panic nor succeed without a valid proof.
func FuzzSCRAMServer(f *testing.F) {
	f.Add([]byte("n,,n=alice@example.org,r=abc"), []byte("c=biws,r=abcdef,p=AAAA"))
	f.Add([]byte("p=tls-exporter,,n=a,r=x"), []byte("c=,r=,p="))
	f.Add([]byte("y,a=bob,n=alice@example.org,r=1"), []byte(""))
	fx := newFixture(f, Options{MaxFailuresPerIP: -1, MaxFailuresPerAccount: -1})
	f.Fuzz(func(t *testing.T, first, final []byte) {
		for _, mech := range []string{MechSCRAM, MechSCRAMPlus} {
			x := fx.svc.NewSCRAMServer(context.Background(), ipA, mech, ChannelBinding{})
			for _, msg := range [][]byte{first, final, nil, nil} {
				_, done, err := x.Next(msg)
				if err != nil {
					break
				}
				if done {
					t.Fatalf("exchange succeeded: %q %q", first, final)
				}
			}
		}
	})
}
