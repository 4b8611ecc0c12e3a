# Every example runs and prints the values it should (not the timing): see
# run_example.cmake. example(name regex...) adds the test example.<name>.
function(example name)
  list(JOIN ARGN "|;|" expect)
  add_test(NAME example.${name}
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${name}> "-DEXPECT=${expect}"
      -P ${CMAKE_CURRENT_SOURCE_DIR}/run_example.cmake)
  set_tests_properties(example.${name} PROPERTIES TIMEOUT 90)
endfunction()

set(hello_lines "")
foreach(i RANGE 0 9)
  list(APPEND hello_lines "hello world ${i}\n")
endforeach()
example(02_lock_hello ${hello_lines})

example(03_pool_basics
  "^100\n\\[0, 1, 4, 9, 16, 25, 36, 49, 64, 81\\]\n0\n1\n4\ntimeout_error: ")

example(04_process_logging
  "[0-9:]+: Main-Process: before creating Process"
  "This is Sub-Process First: starting.*This is Sub-Process First: finishing"
  "Process p is alive: false"
  "Main-Process: Terminated Process:"
  "Process q is alive: false, exitcode -15")

set(square_lines "")
foreach(i RANGE 1 9)
  math(EXPR sq "${i} * ${i}")
  list(APPEND square_lines "Process ID: [0-9]+, Process name: name${i}, result is: ${sq}\n")
endforeach()
example(05_square_processes "Parent process id: [0-9]+" ${square_lines} "parent process is done")

example(06_executor_as_completed
  "page-4k.html page is 4096 bytes"
  "page-16k.html page is 16384 bytes"
  "page-64k.html page is 65536 bytes"
  "missing.html generated an exception: .*raised std::runtime_error in worker pid [0-9]+: cannot open")

example(07_shared_value "Parent process ID: [0-9]+" "Process-9 data [0-9]+"
  "Final Data in parent process: 450\n")

example(08_queue_workers "Process Name: 0\nResult is: 10000" "Process Name: 4\nResult is: 10000"
  "Main-Processing Total Count: 50000\n" "Multi process is Done!")

example(09_pipe_child "Process Name: child\nResult is: 10000"
  "Main-Processing Total Count: 10000\n" "Multi process is Done!")

example(10_thread_lock
  "depositor-0 alive after join: false"
  "depositor-3 alive after join: false"
  "balance after 4 x 10000 locked deposits: 40000\n"
  "balance after a recursive add of 2: 40002\n"
  "background is alive: true, daemon: true")

example(11_pool_with_map "\\[2, 5, 10, 17, 26, 37, 50, 65\\]")

example(12_manager "current process: MainProcess" "worker is alive: true"
  "worker after terminate: alive false, exitcode -15"
  "manager list: 1 4 9 16 25\n" "manager dict: 5 entries, squarer-3 -> 9")

example(13_single_process "hello, world" "Process: [0-9]+ is running")

example(14_three_processes "task1: hello, one" "task2: hello, two" "task3: hello, three"
  "The number of CPU is:[0-9]+" "child p.name: Process-[123]\tp.id: [0-9]+"
  "3 processes take [0-9.]+ seconds")

example(15_lock_file "time cost: [0-9.]+ seconds\nhello world!")

set(sem_lines "")
foreach(i RANGE 0 7)
  list(APPEND sem_lines "hello, ${i}\n")
endforeach()
# At most two at a time: eight tasks take at least four task times.
example(16_semaphore ${sem_lines} "8 process takes [0-9.]+ seconds, ([4-9]|[1-9][0-9]) task times")

example(17_event "task1 is waiting..." "task2 is waiting..."
  "hello, 1, e.is_set\\(\\): false\n.*main: event is set\n.*hello, 1, e.is_set\\(\\): true")

set(msg_lines "")
foreach(i RANGE 0 9)
  list(APPEND msg_lines "processes done.*msg: ${i}\n.*map done" "map done.*msg: ${i}\n")
endforeach()
example(18_pool_apply_async "hello, 0\n" "hello, 9\n" ${msg_lines})

set(double_lines "")
foreach(i RANGE 0 9)
  math(EXPR d "${i} * 2")
  list(APPEND double_lines "${i} doubled to ${d} by process id: [0-9]+\n")
endforeach()
example(19_pool_doubler ${double_lines})
example(20_process_doubler "0 doubled to 0 by process id: [0-9]+\n"
  "1 doubled to 2 by process id: [0-9]+\n" "2 doubled to 4 by process id: [0-9]+\n")

# Topologies: each checks its own totals (a wrong one exits non-zero).
example(21_pipeline "items: 200000, sum at the sink: [0-9]+" "throughput: [0-9]+ items/s"
  "sink exitcode 0")
example(22_fan_out_fan_in "primes below 2000000: 148933 \\(expected 148933\\)"
  "fan-in of 40 partial counts")
example(23_word_count "corpus: 16 files, [0-9]+ words written" "counted [0-9]+ words, 10 distinct")
example(24_ring "ring of 8 processes, 2000 rounds: token = 16000 hops"
  "round trip: [0-9]+ rounds/s")
example(25_supervisor_tree "supervisor-A: [0-9]+ restarts, 60 units done"
  "supervisor-B: [0-9]+ restarts, 60 units done" "a worker's last exit: its process was killed by signal 6"
  "tree: [0-9]+ restarts in all, 120 units")

# Actors.
example(26_actor_counter "^15\n101\n")
example(27_kv_store "client 1 \\(pid [0-9]+\\) read back 999" "client 2 \\(pid [0-9]+\\) read back 999"
  "client 3 \\(pid [0-9]+\\) read back 999" "store \\(pid [0-9]+\\) holds 3001 keys, hits = 3000")
example(28_bank_accounts "account-1 \\(pid [0-9]+\\): [0-9]+\naccount-2 \\(pid [0-9]+\\): [0-9]+\naccount-3"
  "[0-9]+ transfers done, [0-9]+ refused \\(insufficient funds\\)" "total 600 \\(conserved: yes\\)")
example(29_chat_room "\\* ann joined\n\\* bob joined\n<ann> hi all\n\\* cid joined\n<cid> hello!\n\\* ann left\n\\* bob left: its process was killed by signal 9.*\n<cid> where did bob go\\?\ncid heard 5 lines")
example(30_actor_ring "ring of 8 actor processes, 2000 rounds: token = 16000 hops"
  "round trip: [0-9]+ rounds/s")

example(31_listener_authkey
  "^result from the worker: 49\n"
  "refused: listener::accept: the other end answered the challenge with a different authkey"
  "the worker with the wrong key exited with 3\n")

# Supervision.
example(32_supervised_pipeline "items: 2000, sum at the sink: 2668667000 \\(expected 2668667000\\)"
  "worker crashes survived: [1-9][0-9]*, in [0-9]+ ms"
  "squarers-1: pid [0-9]+, [0-9]+ restarts")

# A map across two hosts (plain TCP on 127.0.0.1; the worker host is the
# program itself, started as actors-node would).
example(33_cluster_map "hosts: root h2\nsquares: 1 4 9 16 25 36 49 64\ntasks ran on: h2 root")
