// The npm client node-zookeeper-client, promisified for tests.

import zookeeper, { type Client } from 'node-zookeeper-client';

export async function connect(cs: string, sessionTimeout = 10_000): Promise<Client> {
  const client = zookeeper.createClient(cs, { sessionTimeout, spinDelay: 200, retries: 0 });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      client.close();
      reject(new Error(`node-zookeeper-client did not connect to ${cs}`));
    }, 15_000);
    client.once('connected', () => {
      clearTimeout(t);
      resolve();
    });
    client.connect();
  });
  return client;
}

export function call<T>(fn: (cb: (err: Error | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

export function callVoid(fn: (cb: (err: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
}
