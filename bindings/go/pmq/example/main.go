// Command example is the reference's producer-consumer example in Go: a
// producer process sends ten JSON records with priorities 0..2, then STOP at
// priority 99; a consumer process receives until STOP, then removes the
// queue. It speaks the same protocol as examples/c/producer.c and
// consumer.c, so either side can be the C program.
//
//	example                  run both: start this program as the consumer, then produce
//	example producer /name   only the producer
//	example consumer /name   only the consumer
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/pmq-project/pmq/bindings/go/pmq"
)

// The queue's shape, as in the C example: small, so the producer waits
// when the consumer lags.
var shape = []pmq.Option{pmq.WithCapacity(4), pmq.WithMessageSize(256)}

type record struct {
	ID        int     `json:"id"`
	Timestamp float64 `json:"timestamp"`
	Value     int     `json:"value"`
}

func producer(name string) error {
	mq, err := pmq.Create(name, append(shape, pmq.WriteOnly())...)
	if err != nil {
		return err
	}
	defer mq.Close()

	for i := 0; i < 10; i++ {
		data := record{ID: i, Timestamp: float64(time.Now().UnixMilli()) / 1000, Value: i * 10}
		message, _ := json.Marshal(data)
		// Wait at most 5 s for room: a vanished consumer must not hang us.
		if err := mq.SendTimeout(message, uint(i%3), 5*time.Second); err != nil {
			return err
		}
		fmt.Printf("Produced (priority %d): %s\n", i%3, message)
		time.Sleep(50 * time.Millisecond)
	}
	// STOP has the highest priority, so it would overtake records still in
	// the queue: send it once the consumer has taken them all.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n, err := mq.CurrentMessages()
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the consumer stopped taking messages")
		}
	}
	return mq.SendTimeout([]byte("STOP"), 99, 5*time.Second)
}

func consumer(name string) error {
	mq, err := pmq.Create(name, append(shape, pmq.ReadOnly())...)
	if err != nil {
		return err
	}
	defer mq.Close()

	buf := make([]byte, mq.MaxMessageSize())
	received := 0
	stopping := false
	for {
		if stopping {
			// STOP has the highest priority, so records a lagging consumer
			// has not taken yet are still queued behind it: take them too.
			if left, err := mq.CurrentMessages(); err != nil || left == 0 {
				break
			}
		}
		// Wait at most 10 s for each message, so a dead producer cannot hang us.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n, priority, err := mq.ReceiveContext(ctx, buf)
		cancel()
		if err != nil {
			return err
		}
		message := buf[:n]
		if string(message) == "STOP" {
			stopping = true
			continue
		}
		var data record
		if err := json.Unmarshal(message, &data); err != nil {
			return fmt.Errorf("bad record %q: %w", message, err)
		}
		received++
		fmt.Printf("Consumed (priority %d): %s\n", priority, message)
	}
	fmt.Printf("Consumer stopping after %d messages\n", received)
	if err := mq.Unlink(); err != nil {
		return err
	}
	if received != 10 {
		return fmt.Errorf("received %d records, want 10", received)
	}
	return nil
}

// both runs the consumer as a second process (the reference forks), then
// produces, over queue name.
func both(name string) error {
	defer pmq.UnlinkName(name) // normally the consumer already removed it
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "consumer", name)
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	if err := child.Start(); err != nil {
		return err
	}
	if err := producer(name); err != nil {
		_ = child.Process.Kill()
		_ = child.Wait()
		return err
	}
	if err := child.Wait(); err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	fmt.Printf("example: producer and consumer finished over %s\n", name)
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) == 1:
		err = both(fmt.Sprintf("/pmq-go-example-%d", os.Getpid()))
	case len(os.Args) == 3 && os.Args[1] == "both":
		// make test passes a name with its per-run prefix.
		err = both(os.Args[2])
	case len(os.Args) == 3 && os.Args[1] == "producer":
		err = producer(os.Args[2])
	case len(os.Args) == 3 && os.Args[1] == "consumer":
		err = consumer(os.Args[2])
	default:
		fmt.Fprintf(os.Stderr, "usage: %s [both|producer|consumer /queue_name]\n", os.Args[0])
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "example: %v\n", err)
		os.Exit(1)
	}
}
