package bench

import (
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkRelayPostfix runs BenchmarkRelay's workload through a private
// Debian Postfix (stock settings, its own config and queue directory,
// relayhost = the sink). Postfix here has no SASL (it needs Dovecot or
// Cyrus for that): it accepts the submissions from loopback through
// mynetworks, so its clients skip AUTH. The dkim variant signs as Postern
// does (ed25519-sha256 and rsa-sha256 2048, relaxed/relaxed) through two
// private OpenDKIM milters, one per algorithm (see openDKIM); no-dkim
// signs nothing. Both check a sample of what the sink got. It needs root, as
// Postfix and OpenDKIM switch to their own users.
func BenchmarkRelayPostfix(b *testing.B) {
	b.Run("dkim", func(b *testing.B) { benchRelayPostfix(b, true) })
	b.Run("no-dkim", func(b *testing.B) { benchRelayPostfix(b, false) })
}

func benchRelayPostfix(b *testing.B, signed bool) {
	for range b.N {
		sk := startSink(b, relayMessages)
		var dks []*openDKIM
		var milters []string
		var txt map[string]string // nil: the sink must get unsigned mail
		if signed {
			txt = map[string]string{}
			dks = startOpenDKIMs(b, "bench.test")
			for _, d := range dks {
				milters = append(milters, d.milter)
				maps.Copy(txt, d.txt)
			}
		}
		addr, master := startRelayPostfix(b, sk.addr(), strings.Join(milters, ", "))
		time.Sleep(500 * time.Millisecond)
		cpu0, dk0 := treeCPU(master), dkimCPU(dks)
		res := runRelay(b, addr, false, sk)
		cpu1, dk1 := treeCPU(master), dkimCPU(dks)
		if signed {
			cpu1["opendkim"] = dk1 - dk0 // not under master: none in cpu0
			b.ReportMetric((dk1-dk0)*1000/relayMessages, "opendkim-cpu-ms/msg")
		}
		reportRelay(b, res, sum(cpu1)-sum(cpu0))
		var parts []string
		for name, v := range cpu1 {
			parts = append(parts, fmt.Sprintf("%s %.2f", name, (v-cpu0[name])*1000/relayMessages))
		}
		slices.Sort(parts)
		b.Logf("Postfix CPU ms/msg by daemon (exited ones under master): %s", strings.Join(parts, ", "))
		checkSigned(b, sk, txt)
	}
}

// dkimCPU is the CPU seconds of the OpenDKIM filters so far.
func dkimCPU(ds []*openDKIM) float64 {
	t := 0.0
	for _, d := range ds {
		cpu, _, _ := procStats(d.pid)
		t += cpu
	}
	return t
}

// startRelayPostfix starts a private Postfix listening on a free loopback
// port and returns that address and its master's PID. With milters
// ("inet:ip:port, ...") set, every message goes through them in order.
func startRelayPostfix(b *testing.B, relayHost, milters string) (string, int) {
	if os.Getuid() != 0 {
		b.Fatal("Postfix needs root (scripts/deps.sh installs it)")
	}
	bin, err := exec.LookPath("postfix")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/postfix"); err != nil {
			b.Fatal("postfix is not installed: run scripts/deps.sh")
		}
	}
	// Not b.TempDir: Postfix's daemons (user postfix) must traverse it.
	dir, err := os.MkdirTemp("", "postern-bench-postfix-")
	if err != nil {
		b.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	for _, d := range []string{"queue", "data"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	if out, err := exec.Command("chown", "postfix", filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		b.Fatalf("chown: %v\n%s", err, out)
	}
	addr := freePort(b)
	if err := writePostfixRelayConfig(dir, addr, relayHost, milters); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		exec.Command(bin, "-c", dir, "stop").Run()
		for i := 0; i < 100 && exec.Command(bin, "-c", dir, "status").Run() == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if b.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "postfix.log"))
			b.Logf("postfix log (end):\n%s", log[max(0, len(log)-8192):])
		}
		os.RemoveAll(dir)
	})
	// Postfix reports start-up errors only to syslog unless it has a
	// terminal: script(1) gives it one.
	start := exec.Command(bin, "-c", dir, "start")
	if _, err := exec.LookPath("script"); err == nil {
		start = exec.Command("script", "-qec", bin+" -c "+dir+" start", "/dev/null")
	}
	if out, err := start.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "postfix.log"))
		b.Fatalf("postfix start: %v\n%s\n%s", err, out, log)
	}
	waitPort(b, addr)
	raw, err := os.ReadFile(filepath.Join(dir, "queue", "pid", "master.pid"))
	pid, perr := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || perr != nil {
		b.Fatalf("postfix master.pid: %v %v", err, perr)
	}
	return addr, pid
}

// writePostfixRelayConfig writes main.cf and master.cf: stock settings but
// for the private directories, loopback only, and every message relayed
// to relayHost ("ip:port") in clear text, through milters if set.
func writePostfixRelayConfig(dir, addr, relayHost, milters string) error {
	host, port, err := net.SplitHostPort(relayHost)
	if err != nil {
		return err
	}
	mainCF := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-bench-relay
maillog_file = %[1]s/postfix.log
maillog_file_prefixes = %[1]s
myhostname = mx.pf-bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
relayhost = [%[2]s]:%[3]s
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_tls_security_level = none
smtpd_tls_security_level = none
`, dir, host, port)
	if milters != "" {
		// tempfail: a broken milter shows as failed submissions, never as
		// unsigned mail.
		mainCF += fmt.Sprintf("smtpd_milters = %[1]s\nnon_smtpd_milters = %[1]s\nmilter_default_action = tempfail\n", milters)
	}
	masterCF := addr + ` inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(mainCF), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "master.cf"), []byte(masterCF), 0o644)
}

// treeCPU returns the CPU seconds (user+system) of pid, of its children
// that have exited (cutime, cstime) and of its live children, by command
// name: Postfix's work is spread over short-lived daemons under the master.
func treeCPU(pid int) map[string]float64 {
	total := map[string]float64{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		name, ppid, cpu, ok := statCPU(p)
		if ok && (p == pid || ppid == pid) {
			total[name] += cpu
		}
	}
	return total
}

func sum(m map[string]float64) float64 {
	t := 0.0
	for _, v := range m {
		t += v
	}
	return t
}

// statCPU reads a process's command name, its parent and its
// utime+stime+cutime+cstime.
func statCPU(pid int) (name string, ppid int, cpu float64, ok bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, 0, false
	}
	s := string(raw)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, 0, false
	}
	name = s[open+1 : end]
	fields := strings.Fields(s[end+2:])
	if len(fields) < 15 {
		return "", 0, 0, false
	}
	ppid, _ = strconv.Atoi(fields[1])
	for _, f := range fields[11:15] {
		v, _ := strconv.ParseFloat(f, 64)
		cpu += v
	}
	return name, ppid, cpu / 100, true // USER_HZ is 100 on Linux
}
