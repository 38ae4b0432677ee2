package clustermanager_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/cmtest"
	"github.com/tashi-go/tashi/internal/pgtest"
)

// cmProcess is a tashi-cm binary running on a test database.
type cmProcess struct {
	bin, dsn, dir, port string
	cmd                 *exec.Cmd
}

func buildCM(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "tashi-cm")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/tashi-go/tashi/cmd/tashi-cm").CombinedOutput()
	if err != nil {
		t.Fatalf("build tashi-cm: %v\n%s", err, out)
	}
	return bin
}

func (p *cmProcess) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(p.bin, "--dsn", p.dsn, "--listen", "127.0.0.1", "--port", p.port, "--state-dir", p.dir)
	log, _ := os.OpenFile(filepath.Join(p.dir, "cm.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the CM to listen", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + p.port + "/v1/health")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

func (p *cmProcess) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// A CM killed with SIGKILL in the middle of a burst of createVm calls and
// started again: every call that got a success is in the record exactly
// once, and none that got an error is. Clients retry transport errors
// with the same idempotency key, as the CLI does.
func TestKill9DuringCreateBurst(t *testing.T) {
	p := &cmProcess{bin: buildCM(t), dsn: pgtest.NewDB(t), dir: t.TempDir(), port: cmtest.FreePort(t)}
	p.start(t)
	t.Cleanup(p.kill9)
	tok, err := os.ReadFile(filepath.Join(p.dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	cl := api.NewClient("http://127.0.0.1:"+p.port, strings.TrimSpace(string(tok)))
	cl.RetryFor = 60 * time.Second
	if _, err := cl.AddImage(ctx, api.AddImageRequest{Name: "tiny.qcow2"}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 25
	results := make([]error, workers*each)
	ids := make([]int64, workers*each)
	var done atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := w*each + i
				in, err := cl.CreateVM(ctx, cmtest.Spec(fmt.Sprintf("burst-%d", n)))
				results[n], ids[n] = err, in.ID
				done.Add(1)
			}
		}()
	}
	for k := int64(1); k <= 2; k++ {
		waitFor(t, "a third more of the burst", func() bool { return done.Load() > k*workers*each/3 })
		p.kill9()
		time.Sleep(300 * time.Millisecond)
		p.start(t)
	}
	wg.Wait()
	checkBurst(t, p, results, ids)
}

func checkBurst(t *testing.T, p *cmProcess, results []error, ids []int64) {
	t.Helper()
	conn, err := pgx.Connect(ctx, p.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ok := 0
	for n, err := range results {
		var count int
		var id int64
		name := fmt.Sprintf("burst-%d", n)
		if e := conn.QueryRow(ctx, `SELECT count(*), coalesce(min(id), 0) FROM instances WHERE name = $1`, name).Scan(&count, &id); e != nil {
			t.Fatal(e)
		}
		switch {
		case err == nil && (count != 1 || id != ids[n]):
			t.Errorf("%s succeeded as id %d but the record has %d rows (id %d)", name, ids[n], count, id)
		case err != nil && count != 0:
			t.Errorf("%s failed (%v) but the record has it %d times", name, err, count)
		}
		if err == nil {
			ok++
		}
	}
	t.Logf("%d of %d creates succeeded across the kill", ok, len(results))
}
