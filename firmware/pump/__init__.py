# The pump application: pure logic (rate, controller, protocol) plus the loop that wires it to a board.
