// An MQTT client that follows a Tandem pair, with mqtt.js alone: both nodes
// listed, a refusal (the standby's CONNACK "server unavailable") is a reason
// to try the next one, and subscriptions are renewed on every reconnect.
// Tandem's own helper (`import { connectPair } from "tandem/mqtt"`) does the
// same and also follows MQTT 5 Server References (0x9C/0x9D).
//   node follow-pair.mjs 10.0.0.1:1883,10.0.0.2:1883 viewer "$MQTT_PASSWORD" 'tandem/line1/#' [seconds]
import mqtt from "mqtt";

const [list, username, password, topic, seconds] = process.argv.slice(2);
const servers = list.split(",").map((s) => {
  const i = s.lastIndexOf(":");
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
});
const client = mqtt.connect({ servers, username, password, protocolVersion: 4, reconnectPeriod: 200, connectTimeout: 2000, reconnectOnConnackError: true });
client.on("connect", () => {
  console.log(`server ${client.options.host}:${client.options.port}`);
  client.subscribe(topic);
});
client.on("error", () => {}); // a refusal: mqtt.js tries the next server
client.on("message", (t, payload) => console.log(`${t} ${payload.toString()}`));
if (Number(seconds) > 0) setTimeout(() => client.end(true), Number(seconds) * 1000);
