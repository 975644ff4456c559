// Short-lived processes for benchmarks/abuse-processes: WORKERS loops fork
// COUNT processes in all; each connects to 127.0.0.1:PORT, sends 64 bytes
// and exits. (Python children cost milliseconds each in copy-on-write
// faults; these cost well under one.) Prints one JSON line at the end.
//   churn PORT COUNT WORKERS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int connect_and_send(int port)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(port) };
	char message[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(message, 'x', sizeof(message));
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0)
		return 1;
	if (write(fd, message, sizeof(message)) != sizeof(message))
		return 1;
	close(fd);
	return 0;
}

/* Forks `count` processes one after the other; returns how many failed. */
static int forking_loop(int port, long count)
{
	int failed = 0;

	for (long i = 0; i < count; i++) {
		int status;
		pid_t child = fork();
		if (child == 0)
			_exit(connect_and_send(port));
		if (child < 0 || waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	}
	return failed;
}

int main(int argc, char **argv)
{
	struct timespec start, end;
	long count, failed = 0;
	int port, workers;

	if (argc != 4) {
		fprintf(stderr, "usage: churn PORT COUNT WORKERS\n");
		return 2;
	}
	port = atoi(argv[1]);
	count = atol(argv[2]);
	workers = atoi(argv[3]);
	if (workers < 1)
		workers = 1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int w = 0; w < workers; w++) {
		long share = count / workers + (w < count % workers);
		pid_t worker = fork();
		if (worker == 0) {
			int worker_failed = forking_loop(port, share);
			_exit(worker_failed > 255 ? 255 : worker_failed);
		}
	}
	for (int w = 0; w < workers; w++) {
		int status;
		if (wait(&status) > 0 && WIFEXITED(status))
			failed += WEXITSTATUS(status);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	double seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
	printf("{\"processes\": %ld, \"seconds\": %.3f, \"processes_per_s\": %.1f, \"failed\": %ld}\n",
	       count, seconds, count / seconds, failed);
	return 0;
}
