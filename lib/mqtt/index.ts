/**
 * MQTT: the shared publisher of a broker, FaceWatch's topics, Home Assistant discovery and presence.
 */
export * from './topics';
export * from './discovery';
export * from './publisher';
export * from './faces';
export { acquireBroker, brokers } from './registry';
