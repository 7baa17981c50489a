// A small client for the sagactl HTTP API, standard library only.
//
//	export SAGACTL_URL=http://127.0.0.1:8080 SAGACTL_TOKEN=sgt_...
//	go run . order-checkout '{"orderId":"o-1042","amount":25}' order-1042
//
// Starts a saga (the third argument is the idempotency key), waits until it is finished
// or suspended, and prints its status. Exit 0 when it completed, 1 otherwise, 2 on an API error.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"
)

type Saga struct {
	ID          string          `json:"id"`
	Definition  string          `json:"definition"`
	Version     int             `json:"version"`
	Status      string          `json:"status"`
	CurrentStep *string         `json:"currentStep"`
	Input       json.RawMessage `json:"input"`
	Key         *string         `json:"key"`
	LastError   *string         `json:"lastError"`
	Reason      *string         `json:"reason"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
}

type apiError struct {
	Error struct {
		Code    string  `json:"code"`
		Message string  `json:"message"`
		Hint    *string `json:"hint"`
	} `json:"error"`
}

type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

func (c *Client) do(method, path string, body any, out any) (int, error) {
	var reader *bytes.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		reader = bytes.NewReader(data)
	} else {
		reader = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, c.BaseURL+path, reader)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode >= 400 {
		var e apiError
		_ = json.NewDecoder(res.Body).Decode(&e)
		return res.StatusCode, fmt.Errorf("HTTP %d %s: %s", res.StatusCode, e.Error.Code, e.Error.Message)
	}
	return res.StatusCode, json.NewDecoder(res.Body).Decode(out)
}

// Start starts a saga; created is false when the key started this saga before.
func (c *Client) Start(definition string, input any, key string) (saga Saga, created bool, err error) {
	body := map[string]any{"definition": definition, "input": input}
	if key != "" {
		body["key"] = key
	}
	status, err := c.do("POST", "/v1/sagas", body, &saga)
	return saga, status == http.StatusCreated, err
}

// Wait returns the saga once it is finished or suspended, or when the wait ends.
func (c *Client) Wait(id string, wait time.Duration) (saga Saga, err error) {
	_, err = c.do("GET", fmt.Sprintf("/v1/sagas/%s?wait=%ds", id, int(wait.Seconds())), nil, &saga)
	return saga, err
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go run . <definition> [input-json] [key]")
		os.Exit(2)
	}
	var input any = map[string]any{}
	if len(os.Args) > 2 {
		if err := json.Unmarshal([]byte(os.Args[2]), &input); err != nil {
			fmt.Fprintln(os.Stderr, "input is not JSON:", err)
			os.Exit(2)
		}
	}
	key := ""
	if len(os.Args) > 3 {
		key = os.Args[3]
	}
	base := os.Getenv("SAGACTL_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	c := &Client{BaseURL: base, Token: os.Getenv("SAGACTL_TOKEN"), HTTP: &http.Client{Timeout: 90 * time.Second}}
	saga, created, err := c.Start(os.Args[1], input, key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	if created {
		fmt.Println("started", saga.ID)
	} else {
		fmt.Println("already started", saga.ID)
	}
	for saga.Status != "completed" && saga.Status != "compensated" && saga.Status != "failed" && saga.Status != "suspended" {
		if saga, err = c.Wait(saga.ID, 30*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(2)
		}
	}
	fmt.Println(saga.Status)
	if saga.Status != "completed" {
		os.Exit(1)
	}
}
