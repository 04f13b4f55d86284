/* bench/passthrough - the baseline of SPEC 8: a plain librdkafka
 * consume -> produce copy of N records, with the same client settings as
 * govstream (cooperative-sticky group, idempotent acks=all producer,
 * linger.ms=5) but no decoding, governance or encoding, and librdkafka's
 * default offset handling. Usage: passthrough BOOTSTRAP IN OUT GROUP N */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "passthrough: %s\n", err);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: passthrough BOOTSTRAP IN OUT GROUP N\n");
        return 2;
    }
    long want = atol(argv[5]), copied = 0;
    char err[512];
    rd_kafka_conf_t *cc = rd_kafka_conf_new(), *pc = rd_kafka_conf_new();
    set(cc, "bootstrap.servers", argv[1]);
    set(cc, "group.id", argv[4]);
    set(cc, "auto.offset.reset", "earliest");
    set(cc, "partition.assignment.strategy", "cooperative-sticky");
    set(pc, "bootstrap.servers", argv[1]);
    set(pc, "enable.idempotence", "true");
    set(pc, "acks", "all");
    set(pc, "linger.ms", "5");
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
    if (!c || !p) {
        fprintf(stderr, "passthrough: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, argv[2], RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(c, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    rd_kafka_topic_t *out = rd_kafka_topic_new(p, argv[3], NULL);
    while (copied < want) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m)
            continue;
        if (!m->err) {
            while (rd_kafka_produce(out, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, m->payload,
                                    m->len, m->key, m->key_len, NULL) == -1)
                rd_kafka_poll(p, 10); /* queue full */
            copied++;
        }
        rd_kafka_message_destroy(m);
        rd_kafka_poll(p, 0);
    }
    rd_kafka_flush(p, 60000);
    rd_kafka_consumer_close(c);
    rd_kafka_topic_destroy(out);
    rd_kafka_destroy(c);
    rd_kafka_destroy(p);
    printf("{\"copied\":%ld}\n", copied);
    return 0;
}
