package configs_test

import (
	"fmt"

	"github.com/tashi-go/tashi/configs"
)

func ExampleLoad() {
	env := map[string]string{"TASHI_CM_HOST": "cm.example"}
	c, err := configs.Load("Client", configs.LoadOptions{
		Dirs:    []string{}, // only the embedded defaults; nil means the standard dirs
		Env:     func(k string) string { return env[k] },
		Environ: func() []string { return []string{"TASHI_CLIENT_CLUSTERMANAGERTIMEOUT=500ms"} },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	port, _ := c.Int("Client", "clusterManagerPort")
	timeout, _ := c.Duration("Client", "clusterManagerTimeout")
	fmt.Println(c.String("Client", "clusterManagerHost"), port, timeout)
	fmt.Println(c.Sources())
	// Output:
	// cm.example 9882 500ms
	// [(embedded) TashiDefaults.cfg]
}
