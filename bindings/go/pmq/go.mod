module github.com/pmq-project/pmq/bindings/go/pmq

go 1.22
