# Runs every C example end to end as part of the test suite.
.PHONY: test-examples
test-examples: examples
	sh examples/c/run_example.sh $(BUILD)/examples

test: test-examples
