module github.com/pmq-project/pmq/bindings/go

go 1.22
